"""What a job needs to know about the sweep it belongs to: threads per job, W&B grouping, its variant, the objective.

Everything here reads the Hydra runtime config when there is one, and falls
back to "a single run" when train() is called without Hydra (tests, notebooks).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.errors import UserError
from gan_lab.tracking import read_metrics


@dataclass
class JobInfo:
    multirun: bool = False
    sweep_name: str | None = None  # "<name>-<sweep dir name>", the W&B group of every job of one sweep
    job_num: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # key -> value as typed on the command line
    experiment: str | None = None  # the chosen experiment recipe
    launcher_target: str = ""
    launcher: dict = field(default_factory=dict)
    swept_keys: list[str] = field(default_factory=list)  # parameters the sweep varies (command line, Optuna)

    @property
    def variant(self) -> str:
        """The job's variant as the report names it: its swept parameters except the seed."""
        return variant_label({k: self.overrides.get(k, "") for k in self.swept_keys if k != SEED_KEY})


SEED_KEY = "seed"  # what a variant's jobs differ in: averaged over, not a variant parameter


def variant_label(params: dict[str, str]) -> str:
    """{"loss.real_label": "0.9"} -> "loss.real_label=0.9" (the report's and W&B's name of a variant)."""
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "all jobs"


def sweep_override_keys(task: list[str], sweeper_params: dict | None = None) -> list[str]:
    """Keys swept by a multirun command line (a=1,2 / range / choice) and by the sweeper's params (Optuna),
    in command-line order, without the +/~ prefixes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys = [
        o.key_or_group.lstrip("+~")
        for o in OverridesParser.create().parse_overrides([str(t) for t in task])
        if o.is_sweep_override()
    ]
    return keys + [str(k).lstrip("+~") for k in (sweeper_params or {}) if str(k).lstrip("+~") not in keys]


def _swept_keys_of_running_sweep(sweep_dir: Path) -> list[str]:
    """From <sweep dir>/multirun.yaml, which the launcher writes before the first job starts."""
    import yaml

    try:
        hydra = (yaml.safe_load((sweep_dir / "multirun.yaml").read_text()) or {}).get("hydra", {})
    except (OSError, yaml.YAMLError):
        return []
    params = (hydra.get("sweeper") or {}).get("params")
    task = (hydra.get("overrides") or {}).get("task") or []
    return sweep_override_keys(task, params if isinstance(params, dict) else None)


def parse_overrides(overrides: list[str]) -> dict[str, str]:
    """["loss.real_label=0.9", "+x=1", "~y"] -> {"loss.real_label": "0.9", "x": "1", "y": ""}."""
    parsed = {}
    for item in overrides:
        key, _, value = item.partition("=")
        parsed[key.lstrip("+~")] = value
    return parsed


def current_job(cfg: DictConfig | None = None) -> JobInfo:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return JobInfo()
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    name = cfg.get("name", "run") if cfg is not None else hydra_cfg.job.name
    launcher = OmegaConf.to_container(hydra_cfg.launcher, resolve=True) if hydra_cfg.get("launcher") else {}
    return JobInfo(
        multirun=multirun,
        sweep_name=f"{name}-{Path(hydra_cfg.sweep.dir).name}" if multirun else None,
        job_num=hydra_cfg.job.get("num") if multirun else None,
        overrides=parse_overrides(list(hydra_cfg.overrides.task)),
        experiment=hydra_cfg.runtime.choices.get("experiment"),
        launcher_target=str(launcher.get("_target_", "")),
        launcher=launcher,
        swept_keys=_swept_keys_of_running_sweep(Path(hydra_cfg.sweep.dir)) if multirun else [],
    )


def threads_per_job(job: JobInfo, cpu_count: int | None = None) -> int | None:
    """Torch threads a job should use so parallel jobs don't oversubscribe the cores.

    joblib: the cores split evenly between n_jobs workers (n_jobs=-1 means one per
    core, -2 all but one, as in joblib). Slurm: the cores the task was given.
    None: leave torch's default (a single run, or the sequential launcher).
    """
    if not job.multirun:
        return None
    cpus = cpu_count or len(os.sched_getaffinity(0))
    if "Joblib" in job.launcher_target:
        n_jobs = int(job.launcher.get("n_jobs") or -1)
        parallel = cpus + 1 + n_jobs if n_jobs < 0 else n_jobs
        return max(1, cpus // max(1, parallel))
    if os.environ.get("SLURM_CPUS_PER_TASK"):
        return int(os.environ["SLURM_CPUS_PER_TASK"])
    return None


def wandb_settings(logger_cfg: dict, job: JobInfo, run_name: str) -> dict:
    """Fill the W&B group / name / tags of a sweep job; values set in logger.* win."""
    settings = dict(logger_cfg)
    tags = list(settings.get("tags") or [])
    for tag in (run_name, job.experiment, "sweep" if job.multirun else None):
        if tag and tag not in tags:
            tags.append(tag)
    settings["tags"] = tags
    if job.multirun:
        settings["group"] = settings.get("group") or job.sweep_name
        swept = ",".join(f"{k}={v}" for k, v in job.overrides.items())
        settings["name"] = settings.get("name") or (f"{job.job_num}:{swept}" if swept else str(job.job_num))
        settings["variant"] = job.variant  # W&B config key `variant`: group by it to see the report's variants
    return settings


# -- the objective a sweep optimises ------------------------------------------------------------------------------


def objective_value(run_dir: str | os.PathLike, objective_cfg, final_record: dict | None = None) -> float | dict | None:
    """The value train.py returns: objective.metric from metrics.jsonl (so metrics logged only every eval_every
    steps count too), its last value or, with objective.summary=best, its best (min / max by objective.direction).
    With no metric configured, the final record."""
    metric = objective_cfg.get("metric") if objective_cfg else None
    if not metric:
        return final_record
    summary = objective_cfg.get("summary", "last") or "last"
    if summary not in ("last", "best"):
        raise UserError(f"objective.summary must be last or best, got {summary!r}")
    records = read_metrics(Path(run_dir) / "metrics.jsonl")
    values = [float(r[metric]) for r in records if metric in r]
    if not values:
        available = sorted({k for r in records for k in r})
        raise UserError(f"objective.metric={metric} was never logged; logged keys: {', '.join(available) or 'none'}")
    if summary == "best":
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return float("nan")
        return max(finite) if objective_cfg.get("direction", "minimize") == "maximize" else min(finite)
    return values[-1] if math.isfinite(values[-1]) else float("nan")


def write_result(run_dir: str | os.PathLike, objective, final_record: dict | None) -> None:
    """result.json marks a finished job (the report tells finished, failed and unfinished jobs apart by it)."""
    if isinstance(objective, dict):
        objective = None  # no objective.metric configured: the final record below says it all
    elif objective is not None and not math.isfinite(objective):
        objective = str(objective)  # JSON has no NaN
    result = {"status": "finished", "objective": objective, "final": final_record or {}}
    path = Path(run_dir) / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
