"""The command line as a user runs it: train.py, sample.py and a two-job --multirun."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, TINY, needs_mnist


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / script), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@needs_mnist
def test_train_then_sample_from_the_command_line(tmp_path):
    run_dir = tmp_path / "run"
    result = run("train.py", "dataset.limit=256", *TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "samples" / "step_0000004.png").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 4

    grid = tmp_path / "grid.png"
    result = run("sample.py", f"ckpt={run_dir}/checkpoints/last.ckpt", "n=16", f"out={grid}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    from PIL import Image

    assert Image.open(grid).size == (4 * 34 + 2, 4 * 34 + 2)  # 4x4 grid of 32px images, 2px padding

    # A second run into the same dir must not overwrite it without being asked to.
    before = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    result = run("train.py", "dataset.limit=256", *TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 2
    assert "already holds checkpoints" in result.stderr and "Traceback" not in result.stderr
    assert (run_dir / "checkpoints" / "last.ckpt").read_bytes() == before


def test_two_job_multirun_finishes(tmp_path):
    sweep = tmp_path / "sweep"
    result = run(
        "train.py", "--multirun", "dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=2",
        "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for job in ("0", "1"):
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
        assert (sweep / job / "metrics.jsonl").is_file()
        assert not (sweep / job / "failed.txt").exists()
