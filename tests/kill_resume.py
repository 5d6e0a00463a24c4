"""Kill a real training run with SIGKILL at random moments, resume it each time, and compare the
final parameters bitwise with an uninterrupted run of the same config.

    python -m tests.kill_resume                      # dcgan_mnist, 5 kills (a few minutes on 1 CPU thread)
    python -m tests.kill_resume --kills 3 --max-steps 40 -- dataset=synthetic model.generator.base_width=8

Prints PASS or FAIL (exit code 0 / 1) and writes a JSON summary next to the runs. Each kill lands at a
uniformly random moment in a window of ~2.5 checkpoint intervals after the process reports that training
started, so kills hit steps, sample-grid writes and checkpoint writes alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
STARTED = "run dir "  # the line train.py prints when the trainer is about to fit


def train_command(run_dir: Path, max_steps: int, checkpoint_every: int, experiment: str, extra: list[str]):
    return [
        sys.executable,
        str(REPO / "train.py"),
        f"experiment={experiment}",
        "logger=none",
        "trainer.max_epochs=null",
        f"trainer.max_steps={max_steps}",
        f"trainer.checkpoint_every={checkpoint_every}",
        f"trainer.sample_every={checkpoint_every * 2}",
        f"trainer.log_every={checkpoint_every}",
        "trainer.progress_bar=false",
        "trainer.device=cpu",
        "trainer.num_threads=1",
        "trainer.keep_last=2",
        *extra,
        f"hydra.run.dir={run_dir}",
    ]


def run_to_end(cmd: list[str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "a") as err:
        result = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with {result.returncode}; see {log}")
    return time.perf_counter() - start


def wait_for_start(proc: subprocess.Popen, log: Path, seen: int, timeout: float = 600) -> bool:
    """Wait until the log has one more 'run dir' line than before (training started); False if it exited."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if log.exists() and log.read_text().count(STARTED) > seen:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    raise TimeoutError(f"training did not start within {timeout} s; see {log}")


def checkpoint_step(run_dir: Path) -> int | None:
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.exists():
        return None
    return int(torch.load(last, map_location="cpu", weights_only=True)["step"])


def killed_run(cmd: list[str], run_dir: Path, log: Path, kills: int, window_s: float, rng: random.Random) -> list:
    """Run cmd (with trainer.resume=auto), SIGKILL it `kills` times at random moments, then let it finish."""
    events = []
    cmd = [*cmd, "trainer.resume=auto"]
    while len(events) < kills:
        seen = log.read_text().count(STARTED) if log.exists() else 0
        with open(log, "a") as err:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        try:
            if not wait_for_start(proc, log, seen):
                raise RuntimeError(f"the run ended before kill {len(events) + 1} (exit {proc.returncode}); see {log}")
            delay = rng.uniform(0.0, window_s)
            time.sleep(delay)
            if proc.poll() is not None:
                raise RuntimeError(f"the run finished before kill {len(events) + 1}; use more steps; see {log}")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        step = checkpoint_step(run_dir)
        events.append({"kill": len(events) + 1, "after_start_s": round(delay, 2), "last_ckpt_step": step})
        print(f"kill {len(events)}: {delay:.2f} s after training started; last.ckpt at step {step}")
    run_to_end(cmd, log)
    return events


def compare(a_path: Path, b_path: Path) -> list[str]:
    """Names of tensors that differ between two checkpoints (models, EMA, optimizers), or a step mismatch."""
    a = torch.load(a_path, map_location="cpu", weights_only=True)
    b = torch.load(b_path, map_location="cpu", weights_only=True)
    diffs = [] if a["step"] == b["step"] else [f"step {a['step']} != {b['step']}"]
    for part in ("generator", "discriminator", "ema"):
        if (a.get(part) is None) != (b.get(part) is None):
            diffs.append(part)
            continue
        for name, tensor in (a.get(part) or {}).items():
            if not torch.equal(tensor, b[part][name]):
                diffs.append(f"{part}.{name}")
    for part in ("opt_g", "opt_d"):
        for index, state in a[part]["state"].items():
            for name, value in state.items():
                if torch.is_tensor(value) and not torch.equal(value, b[part]["state"][index][name]):
                    diffs.append(f"{part}.{index}.{name}")
    return diffs


def kill_resume(
    work: Path, kills: int, max_steps: int, checkpoint_every: int, experiment: str, extra: list[str], seed: int
) -> dict:
    rng = random.Random(seed)
    straight, interrupted = work / "straight", work / "killed"
    t_straight = run_to_end(
        train_command(straight, max_steps, checkpoint_every, experiment, extra), work / "straight.log"
    )
    # Training time per step, from the uninterrupted run minus a rough start-up cost.
    log_text = (work / "straight.log").read_text()
    step_s = max(t_straight - 8.0, 1.0) / max_steps if STARTED in log_text else 0.1
    window_s = 2.5 * checkpoint_every * step_s
    print(f"uninterrupted run: {t_straight:.1f} s; kill window {window_s:.1f} s after training starts")
    cmd = train_command(interrupted, max_steps, checkpoint_every, experiment, extra)
    events = killed_run(cmd, interrupted, work / "killed.log", kills, window_s, rng)
    diffs = compare(straight / "checkpoints" / "last.ckpt", interrupted / "checkpoints" / "last.ckpt")
    return {
        "experiment": experiment,
        "overrides": extra,
        "max_steps": max_steps,
        "checkpoint_every": checkpoint_every,
        "kills": events,
        "seed": seed,
        "torch": torch.__version__,
        "threads": 1,
        "result": "PASS" if not diffs else "FAIL",
        "differing": diffs[:20],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="dcgan_mnist")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=150)
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the two runs go (default: a temp dir)")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides (after --)")
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="kill_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    summary = kill_resume(
        work, args.kills, args.max_steps, args.checkpoint_every, args.experiment, args.overrides, args.seed
    )
    (work / "kill_resume.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(
        f"{summary['result']}: {args.kills} SIGKILLs + resumes vs an uninterrupted run "
        f"({'bitwise equal' if summary['result'] == 'PASS' else 'differ: ' + ', '.join(summary['differing'][:5])})"
    )
    return 0 if summary["result"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
