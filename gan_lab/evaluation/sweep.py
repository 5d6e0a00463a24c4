"""evaluate.py sweep=<multirun dir>: the chosen checkpoint of every finished job, against one cached reference.

A job is finished when it wrote result.json and no failed.txt (gan_lab.sweeps.write_result). Each result goes
where a single evaluation puts it, <job>/eval/<name>.json with name = <checkpoint>-<reference>-n<num_samples>
unless name= is given, so `python -m gan_lab.report <multirun dir>` shows its numbers as columns
<name>.<metric> (e.g. last-test-n10000.fid). The reference features are computed by the first job that needs them
and read from paths.cache_dir by the others; jobs already evaluated with the same request are skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.errors import UserError
from gan_lab.evaluation.run import Plan, evaluate_checkpoint, format_table, plan_evaluation

CHECKPOINTS = ("last", "best")


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Every Hydra job under a multirun dir (a job dir holds .hydra/overrides.yaml), in job-number order."""
    dirs = {p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")} - {sweep_dir}
    return sorted(dirs, key=lambda d: (0, int(d.name), "") if d.name.isdigit() else (1, 0, str(d)))


def job_status(job: Path) -> str:
    if (job / "failed.txt").exists():
        return "failed"
    return "finished" if (job / "result.json").exists() else "unfinished"


def evaluate_sweep(cfg: DictConfig) -> Path:
    """Plan every job first (so a conflicting earlier result stops the sweep before any work), then evaluate."""
    sweep_dir = Path(cfg.sweep)
    if not sweep_dir.is_dir():
        raise UserError(f"sweep={cfg.sweep}: no such multirun directory")
    if cfg.checkpoint not in CHECKPOINTS:
        raise UserError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got {cfg.checkpoint!r}")
    jobs = job_dirs(sweep_dir)
    if not jobs:
        raise UserError(f"sweep={cfg.sweep}: no jobs found (no */.hydra/overrides.yaml); is it a multirun dir?")
    rows: list[tuple[str, str, str]] = []  # job, status, FID
    plans: list[tuple[Path, DictConfig, Plan]] = []
    label = {job: str(job.relative_to(sweep_dir)) for job in jobs}
    for job in jobs:
        status = job_status(job)
        ckpt = job / "checkpoints" / f"{cfg.checkpoint}.ckpt"
        if status != "finished":
            rows.append((label[job], f"skipped: {status}", ""))
        elif not ckpt.is_file():
            why = " (best.ckpt needs trainer.eval_every > 0)" if cfg.checkpoint == "best" else ""
            rows.append((label[job], f"skipped: no {ckpt.name}{why}", ""))
        else:
            job_cfg = cfg.copy()
            job_cfg.ckpt, job_cfg.sweep = str(ckpt), None
            plans.append((job, job_cfg, plan_evaluation(job_cfg)))
    failed = 0
    for job, job_cfg, plan in plans:
        reused = plan.existing is not None and not cfg.force
        print(f"== {job}: {'already evaluated' if reused else 'evaluating'} {job_cfg.ckpt}", file=sys.stderr)
        try:
            report, out = evaluate_checkpoint(job_cfg, plan)
        except UserError as err:  # e.g. this job's data is missing: the other jobs still get their numbers
            failed += 1
            rows.append((label[job], f"error: {err}", ""))
            continue
        if not reused:
            print(format_table(report), file=sys.stderr)
        fid = report["metrics"].get("fid", {}).get("value")
        rows.append((label[job], "already evaluated" if reused else f"evaluated -> {out.name}", _fmt(fid)))
    order = {name: i for i, name in enumerate(label.values())}
    rows.sort(key=lambda r: order[r[0]])
    print(f"{'job':<12} {'fid':>10}  status")
    for name, status, fid in rows:
        print(f"{name:<12} {fid:>10}  {status}")
    if failed:
        raise UserError(f"{failed} of {len(plans)} jobs could not be evaluated (see the table above)")
    return sweep_dir


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else ""
