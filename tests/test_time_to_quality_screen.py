"""benchmarks/time_to_quality_screen.py: classifier FID read at images seen (steps x batch x n_critic)."""

import json

import yaml

from benchmarks.time_to_quality_screen import load_run, table, value_at


def fake_run(root, name, batch_size, fids, overrides):
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    cfg = {"seed": 1, "trainer": {"batch_size": batch_size, "n_critic": 1, "ema_decay": 0.999},
           "eval_metric": {"num_samples": 10000, "reference": "test"}}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["trainer.num_threads=1", *overrides]))
    lines = [{"step": step, "eval/classifier_fid": fid} for step, fid in fids] + [{"step": 1, "g_loss": 1.0}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return run


def test_values_are_read_at_images_seen_and_never_borrowed(tmp_path):
    small = load_run(fake_run(tmp_path, "bs32", 32, [(625, 80.0), (1250, 40.0)], ["trainer.batch_size=32"]))
    large = load_run(fake_run(tmp_path, "bs64", 64, [(625, 50.0)], ["trainer.batch_size=64"]))
    assert small["curve"] == [(20000, 80.0), (40000, 40.0)]
    assert large["curve"] == [(40000, 50.0)]
    assert value_at(small["curve"], 40000) == 40.0
    assert value_at(small["curve"], 30000) is None  # 10k images away: not the value at 30k
    text = table([small, large], [20000, 40000])
    assert "| bs32 | 1 | yes | trainer.batch_size=32 | 80.0 | 40.0 | 40.0 (40k) | 40.0 (40k) |" in text
    assert "| bs64 | 1 | yes | trainer.batch_size=64 | - | 50.0 |" in text
    assert "10000 samples vs the test split" in text
