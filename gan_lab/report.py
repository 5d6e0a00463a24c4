"""Compare the jobs of a sweep: python -m gan_lab.report <multirun dir> [--out DIR] [--metrics a,b].

Reads each job's .hydra/overrides.yaml, metrics.jsonl, eval/*.json, result.json
and failed.txt; writes into <multirun dir>/report/ (or --out):

  jobs.csv / jobs.md          one row per job: swept parameters, status, final metrics
  variants.csv / variants.md  one row per variant (swept parameters except seed): mean +- std over seeds
  report.md                   both tables, the failed jobs with their errors, and the plots
  curve_<metric>.png          metric vs step, one line per variant (mean over seeds, band = +- std)
  final_<metric>.png          final metric per variant with +- std error bars

"Final" is the last logged value of a metric. std is the sample standard
deviation (ddof=1) over the finished seeds of a variant; it is blank for one
seed. Works offline and on partly finished sweeps (unfinished jobs are listed
but left out of the means).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gan_lab.tracking import read_metrics

# bookkeeping columns of metrics.jsonl, not results
NOT_METRICS = {"step", "epoch", "img_per_s", "train_seconds"}


@dataclass
class Job:
    path: Path
    overrides: dict[str, str]
    status: str  # finished | failed | unfinished
    error: str = ""
    records: list[dict] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)  # metric -> last value (metrics.jsonl and eval/*.json)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def step(self) -> int | None:
        steps = [r["step"] for r in self.records if isinstance(r.get("step"), (int, float))]
        return int(steps[-1]) if steps else None


# -- reading a sweep ----------------------------------------------------------------------------------------------


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(value)  # tracking writes non-finite values as strings
    return None


def _flatten(prefix: str, obj, out: dict[str, float]) -> None:
    if isinstance(obj, dict) and _number(obj.get("value")) is not None:
        out[prefix] = _number(obj["value"])  # {"value": 3.1, <protocol>...}: the number is the metric
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif (number := _number(obj)) is not None:
        out[prefix] = number


def final_metrics(records: list[dict], eval_dir: Path) -> dict[str, float]:
    """Last logged value of every numeric metric, plus the numbers of eval/<name>.json as <name>.<key>
    (<name>.<metric> for evaluate.py's {"metrics": {<metric>: {"value": v, ...}}, "protocol": ...})."""
    final: dict[str, float] = {}
    for record in records:
        for key, value in record.items():
            if key not in NOT_METRICS and (number := _number(value)) is not None:
                final[key] = number
    for path in sorted(eval_dir.glob("*.json")) if eval_dir.is_dir() else []:
        try:
            result = json.loads(path.read_text())
            if isinstance(result, dict) and isinstance(result.get("metrics"), dict):
                result = result["metrics"]  # evaluate.py's {"metrics": ..., "protocol": ...}: numbers only
            _flatten(path.stem, result, final)
        except (json.JSONDecodeError, OSError):
            continue  # being written right now, or broken: the report is still useful without it
    return final


def read_job(job_dir: Path) -> Job:
    overrides_list = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    overrides = {}
    for item in overrides_list:
        key, _, value = str(item).partition("=")
        overrides[key.lstrip("+~")] = value
    failed = job_dir / "failed.txt"
    if failed.exists():
        status, error = "failed", (failed.read_text().strip().splitlines() or [""])[0]
    elif (job_dir / "result.json").exists():
        status, error = "finished", ""
    else:
        status, error = "unfinished", ""
    records = read_metrics(job_dir / "metrics.jsonl")
    return Job(job_dir, overrides, status, error, records, final_metrics(records, job_dir / "eval"))


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
    """Parameters swept on the command line (from multirun.yaml) plus any whose value differs between jobs
    (e.g. Optuna's parameters), in command-line order."""
    keys: list[str] = []
    multirun_yaml = sweep_dir / "multirun.yaml"
    if multirun_yaml.exists():
        from hydra.core.override_parser.overrides_parser import OverridesParser

        task = (yaml.safe_load(multirun_yaml.read_text()) or {}).get("hydra", {}).get("overrides", {}).get("task", [])
        for override in OverridesParser.create().parse_overrides([str(t) for t in task]):
            if override.is_sweep_override():
                keys.append(override.key_or_group.lstrip("+~"))
    for job in jobs:
        for key in job.overrides:
            if key not in keys and len({j.overrides.get(key) for j in jobs}) > 1:
                keys.append(key)
    return keys


# -- aggregating --------------------------------------------------------------------------------------------------


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; nan for a single value)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return mean, std


@dataclass
class Variant:
    label: str
    params: dict[str, str]
    jobs: list[Job]

    @property
    def finished(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "finished"]

    def final(self, metric: str) -> tuple[float, float, int]:
        values = [j.final[metric] for j in self.finished if metric in j.final and math.isfinite(j.final[metric])]
        if not values:
            return float("nan"), float("nan"), 0
        return (*mean_std(values), len(values))


def group_variants(jobs: list[Job], keys: list[str], seed_key: str = "seed") -> list[Variant]:
    variant_keys = [k for k in keys if k != seed_key]
    variants: dict[tuple, Variant] = {}
    for job in jobs:
        params = {k: job.overrides.get(k, "") for k in variant_keys}
        ident = tuple(params.values())
        if ident not in variants:
            label = ", ".join(f"{k}={v}" for k, v in params.items()) or "all jobs"
            variants[ident] = Variant(label, params, [])
        variants[ident].jobs.append(job)
    return list(variants.values())


def metric_names(jobs: list[Job], wanted: list[str] | None) -> list[str]:
    if wanted:
        return wanted
    names: list[str] = []
    for job in jobs:
        names += [k for k in job.final if k not in names]
    return names


# -- writing ------------------------------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}"


def fmt_mean_std(mean: float, std: float) -> str:
    if math.isnan(mean):
        return ""
    return fmt(mean) if math.isnan(std) else f"{fmt(mean)} +- {fmt(std)}"


def job_rows(jobs: list[Job], keys: list[str], metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    header = ["job", *keys, "status", "step", *metrics, "error"]
    rows = [
        [
            job.name,
            *(job.overrides.get(k, "") for k in keys),
            job.status,
            "" if job.step is None else str(job.step),
            *(fmt(job.final.get(m)) for m in metrics),
            job.error,
        ]
        for job in jobs
    ]
    return header, rows


def variant_rows(variants: list[Variant], metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    keys = list(variants[0].params) if variants else []
    header = [*keys, "finished", *metrics]
    rows = []
    for v in variants:
        cells = [*v.params.values(), f"{len(v.finished)}/{len(v.jobs)}"]
        for m in metrics:
            mean, std, _ = v.final(m)
            cells.append(fmt_mean_std(mean, std))
        rows.append(cells)
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def curve(variant: Variant, metric: str) -> tuple[list[int], list[float], list[float]]:
    """Mean and std of a metric at each logged step over the variant's jobs (unfinished ones included:
    a curve is useful while the sweep runs)."""
    by_step: dict[int, list[float]] = {}
    for job in variant.jobs:
        for record in job.records:
            value = _number(record.get(metric))
            if value is not None and math.isfinite(value) and "step" in record:
                by_step.setdefault(int(record["step"]), []).append(value)
    steps = sorted(by_step)
    stats = [mean_std(by_step[s]) for s in steps]
    return steps, [m for m, _ in stats], [0.0 if math.isnan(s) else s for _, s in stats]


def plot_curves(variants: list[Variant], metric: str, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for v in variants:
        steps, mean, std = curve(v, metric)
        if not steps:
            continue
        drawn = True
        line = ax.plot(steps, mean, label=f"{v.label} (n={len(v.jobs)})")[0]
        lo = [m - s for m, s in zip(mean, std, strict=True)]
        hi = [m + s for m, s in zip(mean, std, strict=True)]
        ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2)
    if drawn:
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} vs step (mean over seeds, band = +- std)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    plt.close(fig)
    return drawn


def plot_finals(variants: list[Variant], metric: str, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = [(v.label, *v.final(metric)) for v in variants]
    stats = [s for s in stats if s[3] > 0]
    if not stats:
        return False
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(stats)), 4))
    xs = list(range(len(stats)))
    ax.errorbar(xs, [s[1] for s in stats], yerr=[0 if math.isnan(s[2]) else s[2] for s in stats], fmt="o", capsize=5)
    for v in variants:  # the individual seeds, so a reader sees the spread behind the error bar
        x = [i for i, s in enumerate(stats) if s[0] == v.label]
        if x:
            ys = [j.final[metric] for j in v.finished if metric in j.final]
            ax.scatter([x[0]] * len(ys), ys, color="grey", s=10, zorder=3)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{s[0]}\n(n={s[3]})" for s in stats], fontsize=8)
    ax.set_ylabel(f"final {metric}")
    ax.set_title(f"final {metric} per variant (mean +- std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_report(
    sweep_dir: str | Path, out_dir: str | Path | None = None, metrics: list[str] | None = None, plots: bool = True
) -> Path:
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir else sweep_dir / "report"
    jobs = find_jobs(sweep_dir, skip=out_dir)
    if not jobs:
        raise SystemExit(f"error: no jobs under {sweep_dir} (expected <job dir>/.hydra/overrides.yaml)")
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = swept_keys(sweep_dir, jobs)
    names = metric_names(jobs, metrics)
    variants = group_variants(jobs, keys)

    jobs_header, jobs_body = job_rows(jobs, keys, names)
    var_header, var_body = variant_rows(variants, names)
    write_csv(out_dir / "jobs.csv", jobs_header, jobs_body)
    write_csv(out_dir / "variants.csv", var_header, var_body)
    (out_dir / "jobs.md").write_text(markdown_table(jobs_header, jobs_body))
    (out_dir / "variants.md").write_text(markdown_table(var_header, var_body))

    counts = {s: sum(j.status == s for j in jobs) for s in ("finished", "failed", "unfinished")}
    lines = [
        f"# Sweep report: {sweep_dir}",
        "",
        f"{len(jobs)} jobs: {counts['finished']} finished, {counts['failed']} failed, "
        f"{counts['unfinished']} unfinished. Swept: {', '.join(keys) or 'nothing'}.",
        "Final = last logged value; mean +- sample std (ddof=1) over the finished jobs of a variant.",
        "",
        "## Variants",
        "",
        markdown_table(var_header, var_body),
        "## Jobs",
        "",
        markdown_table(jobs_header, jobs_body),
    ]
    failed = [j for j in jobs if j.status == "failed"]
    if failed:
        lines += ["## Failed jobs", ""] + [f"- {j.path}: {j.error}" for j in failed] + [""]
    if plots:
        figures = []
        for m in names:
            if plot_curves(variants, m, out_dir / f"curve_{_safe(m)}.png"):
                figures.append(f"curve_{_safe(m)}.png")
            if plot_finals(variants, m, out_dir / f"final_{_safe(m)}.png"):
                figures.append(f"final_{_safe(m)}.png")
        if figures:
            lines += ["## Plots", ""] + [f"![{f}]({f})" for f in figures] + [""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gan_lab.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a multirun dir (holds multirun.yaml and one dir per job)")
    parser.add_argument("--out", default=None, help="where to write the report (default: <sweep_dir>/report)")
    parser.add_argument("--metrics", default=None, help="comma-separated metrics (default: every logged metric)")
    parser.add_argument("--no-plots", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    if not Path(args.sweep_dir).is_dir():
        print(f"error: {args.sweep_dir} is not a directory; pass a multirun dir", file=sys.stderr)
        sys.exit(2)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    report = write_report(args.sweep_dir, args.out, metrics, plots=not args.no_plots)
    print((report.parent / "variants.md").read_text())
    print(f"report: {report}")


if __name__ == "__main__":
    main()
