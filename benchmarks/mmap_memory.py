"""Resident memory and training speed as an image folder grows 1x -> 8x, memory-mapped cache vs in memory.

    python -m benchmarks.mmap_memory                        # 2k..16k generated 64x64 RGB images, 60 steps each
    python -m benchmarks.mmap_memory --base 64 --steps 2 --scales 1 2   # a seconds-long check that it runs
    python -m benchmarks.mmap_memory --base 8000 --base-width 32 --steps 40 --threads 2   # 8k..64k images, cheap model

For each scale and storage (mmap, memory) a fresh process trains the DCGAN 64x64 recipe (dcgan_celeba's
model on a generated folder: random-noise JPEGs, `--base` x scale images) for `--steps` steps, with the
decode cache built beforehand so decoding is not measured. The child reports the peaks during training
(sampled every 50 ms from /proc/self/status) of RssAnon (private memory: what grows with an in-memory
dataset), RssFile (pages of mapped files: shared with other processes, evictable page cache) and VmHWM
(peak RSS), and the trainer's img/s and data_wait of the last log window. "flat" in the summary means
private memory at the largest scale within 10% of the smallest. Speeds need an idle machine (ratios within
one run compare; absolute numbers move between machines).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.machine import cpu_name

REPO = Path(__file__).resolve().parents[1]


def make_folder(root: Path, n: int, size: int = 64) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(len(list(root.glob("*.jpg"))), n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / f"{i:06d}.jpg", quality=90)
    return root


def memory_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


class PeakMemory:
    """Samples /proc/self/status in a thread while training runs (the data is freed when train() returns)."""

    def __init__(self, interval_s: float = 0.05):
        import threading

        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            for key, value in memory_kib().items():
                self.peak[key] = max(value, self.peak.get(key, 0))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def child(args) -> None:
    """One training run; prints a JSON line with memory and speed."""
    from hydra import compose, initialize_config_dir

    from gan_lab.training.run import train

    overrides = [
        "experiment=dcgan_celeba", f"dataset.root={args.root}", "dataset.center_crop=null",
        f"dataset.cache_dir={args.cache}", f"dataset.storage={args.storage}", f"dataset.num_workers={args.workers}",
        "trainer.max_epochs=null", f"trainer.max_steps={args.steps}", f"trainer.log_every={max(1, args.steps // 2)}",
        f"trainer.sample_every={args.steps}", f"trainer.checkpoint_every={args.steps}", "trainer.eval_every=0",
        "trainer.progress_bar=false", "trainer.device=cpu", f"trainer.batch_size={args.batch_size}",
        f"trainer.num_threads={args.threads}", "logger=none", "overwrite=true",  # run dirs are this script's own
        f"model.generator.base_width={args.base_width}", f"model.discriminator.base_width={args.base_width}",
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    with PeakMemory() as memory:
        record = train(cfg, Path(args.run_dir))
    print(json.dumps({**memory.peak, "img_per_s": record.get("img_per_s"), "data_wait": record.get("data_wait")}))


def run_child(root: Path, cache: Path, run_dir: Path, storage: str, args) -> dict:
    cmd = [
        sys.executable, "-m", "benchmarks.mmap_memory", "--child", "--root", str(root), "--cache", str(cache),
        "--run-dir", str(run_dir), "--storage", storage, "--steps", str(args.steps), "--batch-size",
        str(args.batch_size), "--threads", str(args.threads), "--workers", str(args.workers),
        "--base-width", str(args.base_width),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({storage}, {root}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=2000, help="images at scale 1")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="dataset.num_workers of every run")
    parser.add_argument("--base-width", type=int, default=128, help="G and D base width (dcgan_celeba: 128; "
                        "smaller makes each step cheaper, so the data path is a larger share of it)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per scale and storage, alternating their "
                        "order; the table gives medians")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--work-dir", type=Path, default=None, help="generated folders and caches (default: temp)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root"), parser.add_argument("--cache"), parser.add_argument("--run-dir")
    parser.add_argument("--storage", default="mmap")
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0

    with tempfile.TemporaryDirectory(prefix="mmap_memory-") as tmp:
        work = args.work_dir or Path(tmp)
        rows = []
        for scale in args.scales:
            root = make_folder(work / f"images_{scale}x", args.base * scale)
            for storage in ("mmap", "memory"):
                # A one-step run first builds the decode cache, so the measured runs only read it.
                warm = argparse.Namespace(**{**vars(args), "steps": 1})
                run_child(root, work / "cache", work / f"warm_{scale}_{storage}", storage, warm)
            runs: dict[str, list[dict]] = {"mmap": [], "memory": []}
            for r in range(args.rounds):  # alternate who goes first, so drift hits both alike
                for storage in ("mmap", "memory") if r % 2 == 0 else ("memory", "mmap"):
                    result = run_child(root, work / "cache", work / f"run_{scale}_{storage}", storage, args)
                    runs[storage].append(result)
                    print(f"{scale}x {storage} round {r + 1}: {result}", file=sys.stderr, flush=True)
            for storage, results in runs.items():
                row = {key: statistics.median(res[key] for res in results) for key in results[0]}
                speeds = [res["img_per_s"] for res in results]
                rows.append({"scale": scale, "images": args.base * scale, "storage": storage, **row,
                             "img_per_s_rounds": speeds})

    print("| scale | images | storage | RssAnon MiB | RssFile MiB | VmHWM MiB | img/s | data_wait |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        mib = " | ".join(f"{r[key] / 1024:.0f}" for key in ("RssAnon", "RssFile", "VmHWM"))
        speed = f"{r['img_per_s']:.1f} | {r['data_wait']:.3f}"
        print(f"| {r['scale']}x | {r['images']} | {r['storage']} | {mib} | {speed} |")
    for storage in ("mmap", "memory"):
        mine = [r for r in rows if r["storage"] == storage]
        first, last = mine[0], mine[-1]
        growth = last["RssAnon"] / first["RssAnon"] - 1
        verdict = "flat" if abs(growth) <= 0.10 else "grows"
        print(f"{storage}: private memory {first['scale']}x -> {last['scale']}x {growth:+.1%} ({verdict}); "
              f"img/s {first['img_per_s']:.1f} -> {last['img_per_s']:.1f}")
    if args.out:
        meta = {"argv": sys.argv[1:], "load_average_at_end": os.getloadavg(), "cpu": cpu_name()}
        args.out.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
