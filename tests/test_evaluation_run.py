"""evaluate.py on a tiny checkpoint (JSON protocol, errors) and the in-training metric with best.ckpt."""

import json
import subprocess
import sys

import pytest

from gan_lab.errors import UserError
from gan_lab.evaluation.run import evaluate_checkpoint, format_table
from gan_lab.jobs.train import train
from gan_lab.training.checkpoint import load_checkpoint
from tests.conftest import REPO, TINY, compose
from tests.evaluation_helpers import save_tiny_torchscript

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", "dataset.image_size=8", *TINY]
CLASSIFIER = ["eval_metric.classifier.epochs=1", "eval_metric.classifier.width=4"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 4-step run that evaluates every 2 steps with the classifier FID."""
    root = tmp_path_factory.mktemp("evalrun")
    overrides = ["trainer.eval_every=2", "eval_metric.num_samples=16", f"paths.cache_dir={root}/c"]
    cfg = compose([*SYNTHETIC, *CLASSIFIER, *overrides])
    train(cfg, root / "run")
    return root


def eval_cfg(root, *overrides):
    weights = save_tiny_torchscript(root)
    return compose(
        [
            f"ckpt={root}/run/checkpoints/last.ckpt", "num_samples=40", f"paths.cache_dir={root}/c",
            f"fidelity.feature_extractor_weights_path={weights}", "fidelity.input_size=16",
            "fidelity.kid_subset_size=20", "fidelity.kid_subsets=3", "classifier.epochs=1", "classifier.width=4",
            "parzen.validation=20", *overrides,
        ],
        config_name="evaluate",
    )


def test_in_training_metric_is_logged_and_best_checkpoint_kept(tiny_run):
    records = [json.loads(line) for line in (tiny_run / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluated = [r for r in records if "eval/classifier_fid" in r]
    assert [r["step"] for r in evaluated] == [2, 4]
    best = load_checkpoint(tiny_run / "run" / "checkpoints" / "best.ckpt")
    assert best["best_metric"] == min(r["eval/classifier_fid"] for r in evaluated)
    assert best["step"] == min(evaluated, key=lambda r: r["eval/classifier_fid"])["step"]


def test_evaluation_json_holds_every_value_and_its_protocol(tiny_run):
    cfg = eval_cfg(tiny_run, "metrics=[fid,kid,prc,classifier,parzen]", "name=all")
    report, path = evaluate_checkpoint(cfg)
    assert path == tiny_run / "run" / "eval" / "all.json"
    saved = json.loads(path.read_text())
    p = saved["protocol"]
    assert p["num_samples"] == 40 and p["seed"] == 0 and p["ema"] is True  # the default recipe keeps an EMA of G
    assert p["reference"] == {**p["reference"], "dataset": "synthetic", "split": "test", "size": 64, "shape": "1x8x8"}
    assert {"torch", "torch_fidelity", "numpy", "scipy"} <= set(p["libraries"])
    assert p["generator_precision"] == "fp32" and p["wall_time_s"]["total"] > 0
    m = saved["metrics"]
    assert set(m) == {"fid", "kid", "prc", "classifier_fid", "mode_coverage", "parzen"}
    fid = m["fid"]
    assert fid["feature_network"]["name"] == "torchscript" and len(fid["feature_network"]["weights_sha256"]) == 64
    assert fid["feature_network"]["weights_path"].endswith("tiny_features.pt")
    assert fid["reference_cache_hit"] is False and fid["dtype"] == "float64"
    assert m["kid"]["subset_size"] == 20 and "classifier" in m["classifier_fid"]
    assert m["parzen"]["num_validation"] == 20 and m["parzen"]["num_test"] == 64
    assert "fid" in format_table(saved)

    again, _ = evaluate_checkpoint(eval_cfg(tiny_run, "metrics=[fid]", "name=again"))
    assert again["metrics"]["fid"]["reference_cache_hit"] is True
    assert again["metrics"]["fid"]["value"] == fid["value"]  # same seed, same samples
    subset, _ = evaluate_checkpoint(eval_cfg(tiny_run, "metrics=[fid,classifier]", "reference_size=30", "name=sub"))
    assert subset["protocol"]["reference"]["size"] == 30
    assert subset["metrics"]["fid"]["reference_cache_hit"] is False  # another reference set, another cache entry
    assert subset["metrics"]["classifier_fid"]["reference_size"] == 30


def test_unknown_metric_is_a_user_error(tiny_run):
    with pytest.raises(UserError, match="unknown metrics"):
        evaluate_checkpoint(eval_cfg(tiny_run, "metrics=[fidd]"))


def test_command_line_error_for_kid_with_too_few_samples(tiny_run):
    weights = save_tiny_torchscript(tiny_run)
    result = subprocess.run(
        [
            sys.executable, str(REPO / "evaluate.py"), f"ckpt={tiny_run}/run/checkpoints/last.ckpt",
            "metrics=[kid]", "num_samples=10", f"paths.cache_dir={tiny_run}/c", "fidelity.input_size=16",
            f"fidelity.feature_extractor_weights_path={weights}",
        ],
        capture_output=True, text=True, timeout=120, cwd=tiny_run,
    )
    assert result.returncode == 2
    assert "error: kid uses subsets of fidelity.kid_subset_size=1000" in result.stderr
    assert "Traceback" not in result.stderr
