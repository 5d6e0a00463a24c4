"""benchmarks/gpu_check.sh runs every recipe on the CPU with tiny step counts, so it is known to work
before a GPU is available (on tiny generated stand-ins for each dataset)."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.gpu_check import RECIPES
from tests.conftest import REPO


def write_idx(folder: Path, prefix: str, n: int, rng) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
    labels = (np.arange(n) % 10).astype(np.uint8)
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())


def save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def tiny_datasets(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in ("MNIST", "FashionMNIST"):
        write_idx(root / name / "raw", "train", 20, rng)
        write_idx(root / name / "raw", "t10k", 10, rng)
    for split in ("train", "test"):
        for k in range(10):
            save(root / "cifar10-jpeg" / split / f"c{k}" / "0.png", rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    for i in range(8):
        save(root / "celeba-10k-89x109" / f"{i:06d}.jpg", rng.integers(0, 256, (109, 89, 3), dtype=np.uint8))
    for split in ("train", "val", "test"):
        for i in range(4):
            save(root / "facades" / split / f"{i}.jpg", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8))
    return root


def test_gpu_check_runs_every_recipe_on_cpu_with_tiny_steps(tmp_path):
    env = {
        **os.environ, "GAN_LAB_DATA": str(tiny_datasets(tmp_path / "data")), "GAN_LAB_CACHE": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1", "PYTHON": sys.executable, "DEVICE": "cpu", "STEPS": "2", "BATCH": "4",
        "PRECISIONS": "fp32", "JSON": str(tmp_path / "rows.json"),
    }
    proc = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "trainer.num_threads=1", "logger=none"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "| recipe |" not in line]
    assert sorted(row.split("|")[1].strip() for row in rows) == RECIPES and len(RECIPES) >= 9
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[-1] == "ok" and float(cells[4]) > 0 and cells[5] == "-", row  # img/s measured; no GPU memory
