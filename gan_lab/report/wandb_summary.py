"""The report's tables (W&B Tables) and plots as one W&B run of job_type `report` in the sweep's group.

Project, entity, group and mode come from the jobs' logger config, so the summary lands next to the
sweep's runs (group <name>-<sweep dir name> unless logger.group was set). Offline it is written to
<report dir>/wandb/offline-run-* and uploaded later by `wandb sync`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gan_lab.report.collect import find_jobs
from gan_lab.tracking import wandb_mode


def sweep_logger_settings(sweep_dir: Path, report_dir: Path) -> dict:
    jobs = [j for j in find_jobs(sweep_dir, skip=report_dir) if j.config]
    job = next((j for j in jobs if isinstance(j.config.get("logger"), dict) and j.config["logger"].get("project")),
               jobs[0] if jobs else None)
    logger = dict(job.config.get("logger") or {}) if job else {}
    name = job.config.get("name", "run") if job else "run"
    return {
        "project": logger.get("project") or "gan_lab",
        "entity": logger.get("entity"),
        "group": logger.get("group") or f"{name}-{sweep_dir.name}",  # as gan_lab.sweeps.wandb_settings names it
        "mode": wandb_mode(logger.get("mode")),
    }


def log_summary(sweep_dir: Path, report_dir: Path) -> str:
    import wandb

    settings = sweep_logger_settings(sweep_dir, report_dir)
    run = wandb.init(
        project=settings["project"], entity=settings["entity"], group=settings["group"], job_type="report",
        name="report", dir=str(report_dir), mode=settings["mode"], config={"sweep_dir": str(sweep_dir)},
    )
    try:
        for path in sorted(report_dir.glob("*.csv")):
            with open(path, newline="") as f:
                header, *rows = list(csv.reader(f)) or [[]]
            if header:
                run.log({f"report/{path.stem}": wandb.Table(columns=header, data=rows)})
        for path in sorted(report_dir.glob("*.png")):
            run.log({f"report/{path.stem}": wandb.Image(str(path))})
    finally:
        run.finish()
    where = f"run {run.id} ({settings['mode']}) in group {settings['group']}"
    if settings["mode"] == "offline":
        where += f"; upload with: wandb sync {report_dir}/wandb/offline-run-*"
    return where
