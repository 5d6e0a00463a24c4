"""FID for a whole sweep (evaluate.py sweep=...), results reused by request, and the in-training Inception-style FID."""

import csv
import json
import shutil

import pytest

from gan_lab.errors import UserError
from gan_lab.evaluation import run as evaluation_run
from gan_lab.evaluation.run import evaluate_checkpoint, run_evaluate
from gan_lab.jobs.command_line import check_overrides
from gan_lab.training.run import train
from tests.conftest import CONF_DIR, TINY, compose
from tests.evaluation_helpers import save_tiny_torchscript

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", "dataset.image_size=8", *TINY]


@pytest.fixture(scope="module")
def fid_run(tmp_path_factory):
    """A 4-step run with the in-training FID (tiny TorchScript network) every 2 steps (so it has best.ckpt)."""
    root = tmp_path_factory.mktemp("fidrun")
    weights = save_tiny_torchscript(root)
    overrides = [
        "trainer.eval_every=2", "eval_metric.name=fid", "eval_metric.num_samples=16", f"paths.cache_dir={root}/c",
        f"eval_metric.fidelity.feature_extractor_weights_path={weights}", "eval_metric.fidelity.input_size=16",
    ]
    train(compose([*SYNTHETIC, *overrides]), root / "run")
    return root, weights


def eval_overrides(root, weights, *extra, cache="c"):
    return [
        "num_samples=40", f"paths.cache_dir={root}/{cache}", f"fidelity.feature_extractor_weights_path={weights}",
        "fidelity.input_size=16", "fidelity.kid_subset_size=20", "fidelity.kid_subsets=3", "metrics=[fid,kid]",
        *extra,
    ]


def make_sweep(root, run_dir):
    """A multirun dir as Hydra + gan_lab.sweeps leave it: jobs 0 and 1 finished, 2 failed, 3 still running."""
    sweep = root / "sweep"
    for job in range(4):
        d = sweep / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- optimizer.lr={job}\n")
        shutil.copytree(run_dir / "checkpoints", d / "checkpoints")
    for job in (0, 1):
        (sweep / str(job) / "result.json").write_text('{"status": "finished"}\n')
    (sweep / "2" / "failed.txt").write_text("RuntimeError: diverged\n")
    return sweep


def test_in_training_fid_uses_the_fast_backend_and_prints_its_cost(tmp_path, capfd):
    weights = save_tiny_torchscript(tmp_path)
    overrides = [
        "trainer.eval_every=2", "eval_metric.name=fid", "eval_metric.num_samples=16", f"paths.cache_dir={tmp_path}/c",
        f"eval_metric.fidelity.feature_extractor_weights_path={weights}", "eval_metric.fidelity.input_size=16",
    ]
    train(compose([*SYNTHETIC, *overrides]), tmp_path / "run")
    err = capfd.readouterr().err
    assert "reference test (64 images) computed" in err
    lines = [line for line in err.splitlines() if line.startswith("eval step ")]
    assert [line.split(":")[0] for line in lines] == ["eval step 2", "eval step 4"]
    assert all("fid" in line and "from 16 samples in" in line and "on onnxruntime" in line for line in lines)
    records = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "eval/fid" in r] == [2, 4]
    assert all(r["eval/seconds"] > 0 for r in records if "eval/fid" in r)
    assert any((tmp_path / "c" / "onnx").glob("*.onnx"))


def test_sweep_is_evaluated_once_per_finished_job_and_shown_by_the_report(fid_run, monkeypatch, capsys):
    from gan_lab.report import write_report

    root, weights = fid_run
    sweep = make_sweep(root, root / "run")
    calls = []
    real = evaluation_run.fidelity_metrics
    monkeypatch.setattr(evaluation_run, "fidelity_metrics", lambda *a, **k: calls.append(1) or real(*a, **k))

    sweep_cfg = compose(eval_overrides(root, weights, f"sweep={sweep}", cache="sweep-cache"), config_name="evaluate")
    run_evaluate(sweep_cfg)
    assert len(calls) == 2  # jobs 0 and 1; not the failed or unfinished job
    results = {job: sweep / job / "eval" / "last-test-n40.json" for job in "0123"}
    assert results["0"].is_file() and results["1"].is_file()
    assert not results["2"].exists() and not results["3"].exists()
    first, second = (json.loads(results[j].read_text()) for j in "01")
    assert first["metrics"]["fid"]["reference_cache_hit"] is False  # one reference for the sweep:
    assert second["metrics"]["fid"]["reference_cache_hit"] is True  # computed by job 0, read by job 1
    assert first["protocol"]["feature_backend"]["name"] == "onnxruntime"
    assert first["protocol"]["request"]["checkpoint_sha256"] == second["protocol"]["request"]["checkpoint_sha256"]
    table = capsys.readouterr().out
    assert "skipped: failed" in table and "skipped: unfinished" in table and table.count("evaluated ->") == 2

    stamp = results["0"].stat().st_mtime_ns
    run_evaluate(sweep_cfg)
    assert len(calls) == 2 and results["0"].stat().st_mtime_ns == stamp  # same request: not evaluated again
    assert capsys.readouterr().out.count("already evaluated") == 2

    write_report(sweep, plots=False)
    with open(sweep / "report" / "jobs.csv") as f:
        rows = {row["job"]: row for row in csv.DictReader(f)}
    assert float(rows["0"]["last-test-n40.fid"]) == pytest.approx(first["metrics"]["fid"]["value"], rel=1e-3)
    assert rows["2"]["last-test-n40.fid"] == ""


def test_best_checkpoint_of_a_sweep_and_jobs_without_one(fid_run, capsys):
    root, weights = fid_run
    sweep = make_sweep(root / "b", root / "run")
    (sweep / "1" / "checkpoints" / "best.ckpt").unlink()
    run_evaluate(compose(eval_overrides(root, weights, f"sweep={sweep}", "checkpoint=best"), config_name="evaluate"))
    assert (sweep / "0" / "eval" / "best-test-n40.json").is_file()
    assert not (sweep / "1" / "eval").exists()
    assert "skipped: no best.ckpt" in capsys.readouterr().out
    # The schema's choice: refused in one line before Hydra starts the job (as python evaluate.py does).
    with pytest.raises(UserError, match="checkpoint must be one of last, best, got 'first'"):
        check_overrides(CONF_DIR, "evaluate", eval_overrides(root, weights, f"sweep={sweep}", "checkpoint=first"))


def test_another_protocol_never_overwrites_an_earlier_result(fid_run):
    root, weights = fid_run
    ckpt = f"ckpt={root}/run/checkpoints/last.ckpt"
    report, out = evaluate_checkpoint(compose(eval_overrides(root, weights, ckpt, "name=p"), config_name="evaluate"))
    before = out.read_bytes()
    with pytest.raises(UserError, match=r"already holds another protocol \(differs in seed\); pass name="):
        evaluate_checkpoint(compose(eval_overrides(root, weights, ckpt, "name=p", "seed=1"), config_name="evaluate"))
    assert out.read_bytes() == before
    sweep = make_sweep(root / "c", root / "run")
    run_evaluate(compose(eval_overrides(root, weights, f"sweep={sweep}"), config_name="evaluate"))
    kept = (sweep / "1" / "eval" / "last-test-n40.json").read_bytes()
    with pytest.raises(UserError, match="differs in seed"):  # planned before any job is evaluated
        run_evaluate(compose(eval_overrides(root, weights, f"sweep={sweep}", "seed=3"), config_name="evaluate"))
    assert (sweep / "1" / "eval" / "last-test-n40.json").read_bytes() == kept

    again, _ = evaluate_checkpoint(compose(eval_overrides(root, weights, ckpt, "name=p", "force=true"), "evaluate"))
    assert again["metrics"]["fid"]["value"] == report["metrics"]["fid"]["value"]


def test_evaluate_needs_a_checkpoint_or_a_sweep(tmp_path):
    with pytest.raises(UserError, match="pass ckpt=<run>/checkpoints/last.ckpt, or sweep=<multirun dir>"):
        run_evaluate(compose([], config_name="evaluate"))
    with pytest.raises(UserError, match="no jobs found"):
        run_evaluate(compose([f"sweep={tmp_path}"], config_name="evaluate"))
    with pytest.raises(UserError, match="no such checkpoint file"):
        evaluate_checkpoint(compose([f"ckpt={tmp_path}/x.ckpt"], config_name="evaluate"))
