"""The report's tables as (header, rows) of strings, each with the protocol it was measured with."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gan_lab.report.collect import EvalResult, Job
from gan_lab.report.curves import area_under_curve, best_and_last, first_reaching, job_curve
from gan_lab.report.statistics import Comparison, Summary, Variant, lower_is_better, summarize


@dataclass
class Table:
    name: str  # file stem for its CSV / Markdown copy ("" = only inside report.md / .html)
    header: list[str]
    rows: list[list[str]]
    protocol: str = ""  # printed at the head of the table
    notes: list[str] = field(default_factory=list)


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}"


def fmt_summary(s: Summary) -> str:
    if s.n == 0:
        return ""
    if math.isnan(s.low):
        return fmt(s.mean)
    return f"{fmt(s.mean)} [{fmt(s.low)}, {fmt(s.high)}]"


def job_table(jobs: list[Job], keys: list[str], metrics: list[str]) -> Table:
    header = ["job", *keys, "status", "step", *metrics, "error"]
    rows = [
        [job.name, *(job.overrides.get(k, "") for k in keys), job.status, fmt(job.step),
         *(fmt(job.final.get(m)) for m in metrics), job.error]
        for job in jobs
    ]
    return Table("jobs", header, rows, "final = last logged value of each job")


def variant_table(variants: list[Variant], metrics: list[str], protocol: str) -> Table:
    keys = list(variants[0].params) if variants else []
    rows = [[*v.params.values(), f"{len(v.finished)}/{len(v.jobs)}", *(fmt_summary(v.summary(m)) for m in metrics)]
            for v in variants]
    return Table("variants", [*keys, "finished", *metrics], rows, protocol)


def variant_csv(variants: list[Variant], metrics: list[str]) -> Table:
    """The numbers of variant_table in separate columns, for a spreadsheet."""
    keys = list(variants[0].params) if variants else []
    header = [*keys, "finished", "jobs"]
    for m in metrics:
        header += [f"{m}.mean", f"{m}.ci_low", f"{m}.ci_high", f"{m}.std", f"{m}.n"]
    rows = []
    for v in variants:
        row = [*v.params.values(), str(len(v.finished)), str(len(v.jobs))]
        for m in metrics:
            s = v.summary(m)
            row += [fmt(s.mean), fmt(s.low), fmt(s.high), fmt(s.std), str(s.n)]
        rows.append(row)
    return Table("variants", header, rows)


def comparison_table(comparisons: list[Comparison], baseline: tuple[str, str]) -> Table:
    header = ["variant", "vs", "metric", "better", "paired seeds", "difference (variant - baseline)",
              "better on", "P(better)"]
    rows = [
        [c.variant.label, c.baseline.label, c.metric, "lower" if c.lower_is_better else "higher",
         ",".join(c.seeds), fmt(c.mean) if math.isnan(c.low) else f"{fmt(c.mean)} [{fmt(c.low)}, {fmt(c.high)}]",
         f"{c.wins}/{len(c.seeds)} seeds", fmt(c.p_better)]
        for c in comparisons
    ]
    protocol = (
        f"baseline {baseline[0]}={baseline[1]}; each variant against the baseline variant with the same other "
        "parameters, seed by seed (same seed = same initialisation and data order); difference = mean of the "
        "per-seed differences [95% percentile bootstrap CI]; P(better) = share of the bootstrap resamples of "
        "that mean in which the variant is better (ties count half)"
    )
    return Table("comparison", header, rows, protocol)


def time_to_quality_tables(variants: list[Variant], metric: str, thresholds: list[float],
                           protocol: str) -> tuple[Table, Table]:
    """Best vs last value and the area under the curve per variant; then images / minutes to each threshold."""
    lower = lower_is_better(metric)
    header = ["variant", "seeds", f"best {metric}", "best at step (median)", f"last {metric}", "last step",
              "AUC (metric x M images)"]
    rows, reach_rows = [], []
    for v in variants:
        curves = [c for c in (job_curve(j, metric) for j in v.finished) if len(c)]
        results = [best_and_last(c, metric) for c in curves]
        if not results:
            continue
        rows.append([
            v.label, str(len(curves)), fmt_summary(summarize([r.best for r in results])),
            fmt(float(np.median([r.best_step for r in results]))),
            fmt_summary(summarize([r.last for r in results])),
            fmt(float(np.median([r.last_step for r in results]))),
            fmt_summary(summarize([area_under_curve(c) for c in curves])),
        ])
        for t in thresholds:
            hits = [h for h in (first_reaching(c, t, lower) for c in curves) if h is not None]
            minutes = [h.minutes for h in hits if math.isfinite(h.minutes)]
            reach_rows.append([
                v.label, f"{'<=' if lower else '>='} {fmt(t)}", f"{len(hits)}/{len(curves)}",
                f"{float(np.median([h.images for h in hits])):,.0f}" if hits else "",
                fmt(float(np.median(minutes))) if minutes else "",
                fmt(float(np.median([h.step for h in hits]))) if hits else "",
            ])
    best = Table(
        "time_to_quality", header, rows,
        f"{protocol}. Over the finished seeds: {metric} at its best evaluated step (the step best.ckpt keeps when "
        f"it is the monitored metric) next to the last; {'lower' if lower else 'higher'} is better. AUC: "
        "trapezoidal area under the metric vs millions of images seen.",
    )
    reach = Table(
        "thresholds", ["variant", f"{metric}", "seeds reaching it", "images seen (median)",
                       "training minutes (median)", "step (median)"], reach_rows,
        "first evaluated step at which a seed reaches the threshold; medians over the seeds that reach it",
    )
    return best, reach


def _protocol_text(result: EvalResult) -> str:
    p = result.protocol
    ref = p.get("reference") if isinstance(p.get("reference"), dict) else {}
    parts = []
    if p.get("checkpoint"):
        parts.append(f"checkpoint {str(p['checkpoint']).replace(chr(92), '/').rsplit('/', 1)[-1]}")
    if p.get("num_samples") is not None:
        parts.append(f"{p['num_samples']} samples (seed {p.get('seed', '?')})")
    if "ema" in p:
        parts.append(f"EMA {'on' if p['ema'] else 'off'}")
    if ref:
        parts.append(f"vs {ref.get('dataset', '?')} {ref.get('split', '?')} ({ref.get('size', '?')} images)")
    parts += [f"{m}: {how}" for m, how in result.measured_with.items()]
    return ", ".join(parts) or "no protocol recorded in the file"


def eval_tables(variants: list[Variant]) -> list[Table]:
    """One table per eval/<name>.json name: per variant, mean [CI] of each metric; the protocol at its head
    (and a note when the jobs' protocols differ in anything but the checkpoint path and step)."""
    names = list(dict.fromkeys(r.name for v in variants for j in v.jobs for r in j.evals))
    tables = []
    for name in names:
        results = [(v, r) for v in variants for j in v.finished for r in j.evals if r.name == name]
        if not results:
            continue
        metrics = list(dict.fromkeys(k for _, r in results for k in r.values))
        rows = []
        for v in variants:
            mine = [r for w, r in results if w is v]
            if mine:
                rows.append([v.label, str(len(mine)),
                             *(fmt_summary(summarize([r.values[m] for r in mine if m in r.values])) for m in metrics)])
        steps = sorted({r.protocol.get("step") for _, r in results if isinstance(r.protocol.get("step"), int)})
        protocols = {_protocol_text(r) for _, r in results}
        notes = [] if len(protocols) == 1 else [f"the jobs' protocols differ: {' | '.join(sorted(protocols))}"]
        step_text = f"; checkpoint steps {steps[0]}..{steps[-1]}" if steps else ""
        tables.append(Table(f"eval_{name}", ["variant", "seeds", *metrics], rows,
                            f"eval/{name}.json: {sorted(protocols)[0]}{step_text}", notes))
    return tables
