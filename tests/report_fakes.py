"""Synthetic sweep dirs laid out as train.py / evaluate.py leave them, for the report tests."""

from __future__ import annotations

import json

import yaml


def make_job(sweep, num, overrides, finals=None, status="finished", steps=(10, 20), eval_json=None,
             curve=None, config=None, grid=False):
    """A job dir: .hydra/{overrides,config}.yaml, metrics.jsonl, result.json or failed.txt, eval/fid.json.

    finals: metric -> final value (earlier records carry final + k); curve: [(step, train_seconds, value)]
    of eval/classifier_fid, logged as train.py does (one record per eval step, with train_seconds)."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"{k}={v}" for k, v in overrides.items()]))
    cfg = {"name": "toy", "seed": int(overrides.get("seed", 0)),
           "trainer": {"batch_size": 100, "n_critic": 1, "eval_every": 50},
           "eval_metric": {"name": "classifier_fid", "num_samples": 2000, "reference": "test", "seed": 0}}
    cfg.update(config or {})
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    records = []
    if finals is not None:
        for i, step in enumerate(steps):  # the last record carries the final values, earlier ones other values
            later = len(steps) - 1 - i
            records.append({"step": step, "img_per_s": 100.0, **{k: v + later for k, v in finals.items()}})
    for step, seconds, value in curve or []:
        records.append({"step": step, "train_seconds": seconds, "eval/classifier_fid": value})
    if records:
        (job / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if status == "finished":
        (job / "result.json").write_text(json.dumps({"status": "finished"}))
    elif status == "failed":
        (job / "failed.txt").write_text("UserError: loss went to the moon\n\nTraceback ...\n")
    if eval_json is not None:
        (job / "eval").mkdir()
        (job / "eval" / "fid.json").write_text(json.dumps(eval_json))
    if grid:
        from PIL import Image

        (job / "samples").mkdir()
        for step, shade in ((100, 40), (200, 200)):  # the report shows the last grid: the light one
            Image.new("RGB", (64, 64), (shade, shade, shade)).save(job / "samples" / f"step_{step:07d}.png")
    return job


def write_multirun_yaml(sweep, task):
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))


def eval_report(value):
    return {
        "metrics": {
            "classifier_fid": {"value": value / 2, "num_samples": 100, "classifier": {"test_accuracy": 0.98}},
            "mode_coverage": {"classes_covered": 10, "kl_to_uniform": 0.1},
        },
        "protocol": {"checkpoint": "/x/checkpoints/last.ckpt", "step": 20, "num_samples": 100, "seed": 0,
                     "ema": False, "reference": {"dataset": "MNIST", "split": "test", "size": 10000}},
    }


def make_sweep(tmp_path):
    """loss.real_label 1.0 / 0.9 x seeds 0, 1, 2; the last 0.9 job failed."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    write_multirun_yaml(sweep, ["experiment=dcgan_mnist", "loss.real_label=1.0,0.9", "seed=0,1,2",
                                "trainer.max_steps=20"])
    num = 0
    g_losses = {"1.0": [1.0, 2.0, 3.0], "0.9": [4.0, 6.0, None]}  # None: that job failed
    for label in ("1.0", "0.9"):
        for seed in range(3):
            value = g_losses[label][seed]
            overrides = {"experiment": "dcgan_mnist", "loss.real_label": label, "seed": seed, "trainer.max_steps": 20}
            if value is None:
                make_job(sweep, num, overrides, status="failed")
            else:
                make_job(sweep, num, overrides, {"g_loss": value, "d_loss": 10 * value}, eval_json=eval_report(value))
            num += 1
    return sweep


def make_quality_sweep(tmp_path, fids, seconds_per_step=0.6):
    """ema 0 / 0.99 x seeds: fids[variant][seed] = eval/classifier_fid at steps 50, 100, ...; the second
    variant's jobs in reverse seed order, so that pairing by position instead of by seed pairs the wrong jobs."""
    sweep = tmp_path / "quality"
    sweep.mkdir()
    write_multirun_yaml(sweep, ["trainer.ema_decay=0,0.99", "seed=0,1,2"])
    num = 0
    for n, (ema, per_seed) in enumerate(fids.items()):
        for seed in reversed(range(len(per_seed))) if n else range(len(per_seed)):
            curve = [(50 * (i + 1), seconds_per_step * 50 * (i + 1), v) for i, v in enumerate(per_seed[seed])]
            make_job(sweep, num, {"trainer.ema_decay": ema, "seed": seed}, curve=curve, grid=True)
            num += 1
    return sweep
