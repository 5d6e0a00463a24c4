"""benchmarks/quality_curve.py: FID against training minutes from a run's metrics.jsonl and eval/*.json."""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.quality_curve import inception_fids, seconds_at

REPO = Path(__file__).resolve().parents[1]


def test_seconds_at_interpolates_between_logged_steps_and_refuses_outside():
    points = {50: 10.0, 100: 30.0}
    assert seconds_at(100, points) == 30.0
    assert seconds_at(75, points) == 20.0
    assert seconds_at(10, points) is None and seconds_at(150, points) is None


def _run_dir(tmp_path: Path) -> Path:
    records = [{"step": s, "train_seconds": 6.0 * s} for s in (50, 100, 150, 200)]
    records.insert(2, {"step": 100, "eval/classifier_fid": 40.0})
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "eval").mkdir()
    for step, fid in ((100, 60.0), (200, 9.0)):
        result = {
            "metrics": {"fid": {"value": fid, "feature_network": {"torch_fidelity_name": "net"}, "warnings": []}},
            "protocol": {"step": step, "num_samples": 10000,
                         "reference": {"dataset": "MNIST", "split": "test", "size": 10000}},
        }
        (tmp_path / "eval" / f"fid-{step}.json").write_text(json.dumps(result))
    (tmp_path / "eval" / "parzen.json").write_text(json.dumps({"metrics": {"parzen": {}}, "protocol": {}}))
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("trainer:\n  batch_size: 64\n  n_critic: 2\n")
    return tmp_path


def test_curve_reports_the_first_evaluated_step_under_each_threshold(tmp_path):
    run = _run_dir(tmp_path)
    assert [r["step"] for r in inception_fids(run)] == [100, 200]  # files without an FID are skipped
    out = tmp_path / "curve.json"
    printed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality_curve.py"), str(run), "--fid-thresholds", "50", "5",
         "--json", str(out)], check=True, capture_output=True, text=True,
    ).stdout
    reached = json.loads(out.read_text())["reached"]
    assert reached["fid<=50"] == {"step": 200, "train_seconds": 1200.0}
    assert "   200    25,600" in printed  # images seen = steps x batch 64 x n_critic 2
    assert reached["fid<=5"] is None and "fid <= 5: not reached (best 9.00)" in printed
    assert reached["classifier_fid<=20"] is None


def test_curve_turns_images_seen_into_idle_minutes_and_plots(tmp_path):
    run = _run_dir(tmp_path)
    out, png = tmp_path / "curve.json", tmp_path / "curve.png"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality_curve.py"), str(run), "--img-per-s", "128",
         "--json", str(out), "--plot", str(png)], check=True, capture_output=True, text=True,
    )
    fids = json.loads(out.read_text())["inception_fid"]
    assert [r["images"] for r in fids] == [12800, 25600]
    assert [round(r["idle_minutes"], 4) for r in fids] == [round(12800 / 128 / 60, 4), round(25600 / 128 / 60, 4)]
    assert png.stat().st_size > 1000


def test_curve_reads_evaluate_paired_results_as_one_curve_per_split(tmp_path):
    run = _run_dir(tmp_path)
    for path in (run / "eval").glob("fid-*.json"):
        path.unlink()
    for step, train_fid, val_fid in ((100, 80.0, 120.0), (200, 40.0, 90.0)):
        metrics = {
            split: {"l1": 0.3, "fid": {"value": fid, "num_translated": n, "num_reference": n, "warnings": [],
                                       "feature_network": "torchscript"}, "kid": {"value": 0.1, "std": 0.0}}
            for split, fid, n in (("train", train_fid, 400), ("val", val_fid, 100))
        }
        result = {"step": step, "metrics": metrics, "protocol": {"dataset": "facades"}}
        (run / "eval" / f"paired_step_{step}.json").write_text(json.dumps(result))
    rows = inception_fids(run)
    assert [(r["step"], r["series"], r["fid"], r["num_samples"]) for r in rows] == [
        (100, "train", 80.0, 400), (100, "val", 120.0, 100), (200, "train", 40.0, 400), (200, "val", 90.0, 100)]
    out, png = tmp_path / "curve.json", tmp_path / "curve.png"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "quality_curve.py"), str(run), "--fid-thresholds", "50",
         "--json", str(out), "--plot", str(png)], check=True, capture_output=True, text=True,
    )
    reached = json.loads(out.read_text())["reached"]
    # a threshold is read per split: train reaches 50 at step 200, val never does
    assert reached["train fid<=50"] == {"step": 200, "train_seconds": 1200.0}
    assert reached["val fid<=50"] is None
    assert png.stat().st_size > 1000
