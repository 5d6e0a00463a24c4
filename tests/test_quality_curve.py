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
    assert reached["fid<=5"] is None and "fid <= 5: not reached (best 9.00)" in printed
    assert reached["classifier_fid<=20"] is None
