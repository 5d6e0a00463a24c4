"""Reading a sweep: one Job per job dir, from the files train.py and evaluate.py leave there.

<job>/.hydra/overrides.yaml and config.yaml, metrics.jsonl, eval/*.json, result.json, failed.txt.
Every file may be missing, half-written or foreign: a job that cannot be read fully is still listed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gan_lab.sweeps import SEED_KEY, sweep_override_keys
from gan_lab.tracking import read_metrics
from gan_lab.utils.dicts import flatten

# bookkeeping columns of metrics.jsonl, not results
NOT_METRICS = {"step", "epoch", "img_per_s", "train_seconds"}


def number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(value)  # tracking writes non-finite values as strings
    return None


@dataclass
class EvalResult:
    """One <job>/eval/<name>.json: its metrics' values and the protocol they were measured with."""

    name: str
    values: dict[str, float]  # metric (dotted for nested numbers) -> value
    protocol: dict
    measured_with: dict[str, str]  # metric -> feature network / classifier, from the metric's own fields


@dataclass
class Job:
    path: Path
    overrides: dict[str, str]
    status: str  # finished | failed | unfinished
    error: str = ""
    records: list[dict] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)  # metric -> last value (metrics.jsonl and eval/*.json)
    evals: list[EvalResult] = field(default_factory=list)
    config: dict = field(default_factory=dict)  # .hydra/config.yaml (unresolved), {} when unreadable

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def step(self) -> int | None:
        steps = [r["step"] for r in self.records if isinstance(r.get("step"), (int, float))]
        return int(steps[-1]) if steps else None

    @property
    def seed(self) -> str:
        return self.overrides.get(SEED_KEY, str(self.config.get("seed", "")))

    def setting(self, dotted: str, default=None):
        node = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def _metric_values(metrics: dict) -> dict[str, float]:
    """Dotted metric names -> numbers; {"value": 3.1, <protocol>...} is one metric, its number the value."""
    def has_value(obj) -> bool:
        return isinstance(obj, dict) and number(obj.get("value")) is not None

    flat = flatten(metrics, is_leaf=has_value)
    values = {k: number(v["value"] if has_value(v) else v) for k, v in flat.items()}
    return {k: v for k, v in values.items() if v is not None}


def _measured_with(metric: dict) -> str:
    if isinstance(metric.get("feature_network"), dict):
        return f"{metric['feature_network'].get('name', '?')} features"
    if isinstance(metric.get("classifier"), dict):
        acc = number(metric["classifier"].get("test_accuracy"))
        return "project classifier features" + (f" (test accuracy {acc:.4f})" if acc is not None else "")
    return ""


def read_evals(eval_dir: Path) -> list[EvalResult]:
    """Every eval/*.json; evaluate.py's {"metrics": {m: {"value": v, ...}}, "protocol": {...}} or plain numbers."""
    results = []
    for path in sorted(eval_dir.glob("*.json")) if eval_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            continue  # being written right now, or broken: the report is still useful without it
        if not isinstance(data, dict):
            continue
        metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else data
        protocol = data.get("protocol") if isinstance(data.get("protocol"), dict) else {}
        values = _metric_values({k: v for k, v in metrics.items() if k != "protocol"})
        notes = {k: _measured_with(v) for k, v in metrics.items() if isinstance(v, dict)}
        results.append(EvalResult(path.stem, values, protocol, {k: v for k, v in notes.items() if v}))
    return results


def final_metrics(records: list[dict], evals: list[EvalResult]) -> dict[str, float]:
    """Last logged value of every numeric metric, plus eval/<name>.json's numbers as <name>.<metric>."""
    final: dict[str, float] = {}
    for record in records:
        for key, value in record.items():
            if key not in NOT_METRICS and (n := number(value)) is not None:
                final[key] = n
    for result in evals:
        final.update({f"{result.name}.{k}": v for k, v in result.values.items()})
    return final


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def read_job(job_dir: Path) -> Job:
    overrides = {}
    for item in _read_yaml(job_dir / ".hydra" / "overrides.yaml") or []:
        key, _, value = str(item).partition("=")
        overrides[key.lstrip("+~")] = value
    failed = job_dir / "failed.txt"
    if failed.exists():
        status, error = "failed", (failed.read_text(errors="replace").strip().splitlines() or [""])[0]
    elif (job_dir / "result.json").exists():
        status, error = "finished", ""
    else:
        status, error = "unfinished", ""
    records = read_metrics(job_dir / "metrics.jsonl")
    evals = read_evals(job_dir / "eval")
    config = _read_yaml(job_dir / ".hydra" / "config.yaml")
    return Job(job_dir, overrides, status, error, records, final_metrics(records, evals), evals,
               config if isinstance(config, dict) else {})


def _job_sort_key(job: Job):
    return (0, int(job.name), "") if job.name.isdigit() else (1, 0, str(job.path))


def find_jobs(sweep_dir: Path, skip: Path | None = None) -> list[Job]:
    jobs = []
    for overrides_file in sweep_dir.rglob(".hydra/overrides.yaml"):
        job_dir = overrides_file.parent.parent
        if job_dir == sweep_dir or (skip is not None and skip in job_dir.parents):
            continue
        jobs.append(read_job(job_dir))
    return sorted(jobs, key=_job_sort_key)


def swept_keys(sweep_dir: Path, jobs: list[Job]) -> list[str]:
    """Parameters swept on the command line or by the sweeper (from multirun.yaml, as the jobs' W&B
    `variant` is built) plus any whose value differs between jobs, in command-line order."""
    hydra = ((_read_yaml(sweep_dir / "multirun.yaml") or {}).get("hydra") or {})
    params = (hydra.get("sweeper") or {}).get("params")
    keys = sweep_override_keys((hydra.get("overrides") or {}).get("task") or [],
                               params if isinstance(params, dict) else None)
    for job in jobs:
        for key in job.overrides:
            if key not in keys and len({j.overrides.get(key) for j in jobs}) > 1:
                keys.append(key)
    return keys


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
