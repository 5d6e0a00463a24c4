"""write_report: a sweep dir in, report.md / report.html / CSV tables / PNGs out (in <sweep dir>/report/)."""

from __future__ import annotations

from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.report.collect import find_jobs, swept_keys
from gan_lab.report.curves import default_thresholds
from gan_lab.report.document import Document, Figure, Gallery, Section, in_training_protocol, last_sample_grid
from gan_lab.report.figures import plot_curve, plot_finals, plot_time_to_quality
from gan_lab.report.render_html import render_html
from gan_lab.report.render_markdown import markdown_table, render_markdown, write_csv
from gan_lab.report.statistics import PROTOCOL, few_seed_warnings, group_variants, paired_comparisons, parse_baseline
from gan_lab.report.tables import (
    comparison_table,
    eval_tables,
    job_table,
    time_to_quality_tables,
    variant_csv,
    variant_table,
)


def metric_names(jobs, wanted: list[str] | None) -> list[str]:
    if wanted:
        return wanted
    return list(dict.fromkeys(k for job in jobs for k in job.final))


def choose_curve_metric(jobs, requested: str | None) -> str | None:
    """--curve-metric, else the first in-training evaluation metric (eval/classifier_fid, eval/fid)."""
    logged = list(dict.fromkeys(k for j in jobs for r in j.records for k in r))
    if requested:
        if requested not in logged:
            raise UserError(f"--curve-metric {requested} is not in any metrics.jsonl; logged: {', '.join(logged)}")
        return requested
    for preferred in ("eval/classifier_fid", "eval/fid"):
        if preferred in logged:
            return preferred
    return next((k for k in logged if k.startswith("eval/") and k != "eval/seconds"), None)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_report(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    metrics: list[str] | None = None,
    plots: bool = True,
    baseline: str | None = None,
    curve_metric: str | None = None,
    thresholds: list[float] | None = None,
) -> Path:
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out_dir) if out_dir else sweep_dir / "report"
    jobs = find_jobs(sweep_dir, skip=out_dir)
    if not jobs:
        raise UserError(f"no jobs under {sweep_dir} (expected <job dir>/.hydra/overrides.yaml); pass a multirun dir")
    keys = swept_keys(sweep_dir, jobs)
    names = metric_names(jobs, metrics)
    variants = group_variants(jobs, keys)
    base = parse_baseline(baseline, variants)
    curve = choose_curve_metric(jobs, curve_metric)
    out_dir.mkdir(parents=True, exist_ok=True)

    in_training = in_training_protocol(jobs, "eval/*") if any(m.startswith("eval/") for m in names) else ""
    variants_md = variant_table(variants, names, f"final = last logged value; {PROTOCOL}"
                                + (f". {in_training}" if in_training else ""))
    jobs_t = job_table(jobs, keys, names)
    tables = {"jobs": jobs_t, "variants": variant_csv(variants, names)}
    counts = {s: sum(j.status == s for j in jobs) for s in ("finished", "failed", "unfinished")}
    sections = [Section("Variants", [variants_md])]
    if base is not None:
        comparison = comparison_table(paired_comparisons(variants, base, names), base)
        tables["comparison"] = comparison
        sections.append(Section(f"Paired comparison with {base[0]}={base[1]}", [comparison]))
    if curve is not None:
        thresholds = thresholds if thresholds is not None else default_thresholds(variants, curve)
        best, reach = time_to_quality_tables(variants, curve, thresholds, in_training_protocol(jobs, curve))
        tables.update(time_to_quality=best, thresholds=reach)
        blocks: list = [best, reach]
        if plots and plot_time_to_quality(variants, curve, out_dir / f"quality_{_safe(curve)}.png"):
            blocks.append(Figure(out_dir / f"quality_{_safe(curve)}.png", f"{curve} vs images seen and minutes"))
        sections.append(Section(f"Time to quality: {curve}", blocks))
    evals = eval_tables(variants)
    tables.update({t.name: t for t in evals})
    if evals:
        sections.append(Section("Evaluations (eval/*.json)", list(evals)))
    sections.append(Section("Jobs", [jobs_t]))
    failed = [j for j in jobs if j.status == "failed"]
    if failed:
        sections.append(Section("Failed jobs", ["\n".join(f"- {j.path}: {j.error}" for j in failed)]))
    if plots:
        figures = []
        for m in names:
            for kind, draw in (("curve", plot_curve), ("final", plot_finals)):
                path = out_dir / f"{kind}_{_safe(m)}.png"
                if draw(variants, m, path):
                    figures.append(Figure(path, f"{kind}_{_safe(m)}.png"))
        sections.append(Section("Plots", figures))
    galleries = [Gallery(v.label, [Figure(g, f"job {j.name}, seed {j.seed}: {g.stem}") for j in v.jobs
                                   if (g := last_sample_grid(j)) is not None]) for v in variants]
    if any(g.figures for g in galleries):
        sections.append(Section("Last sample grids", [g for g in galleries if g.figures]))

    for name, table in tables.items():
        write_csv(out_dir / f"{name}.csv", table)
    (out_dir / "jobs.md").write_text(markdown_table(jobs_t))
    (out_dir / "variants.md").write_text(markdown_table(variants_md))
    doc = Document(
        f"Sweep report: {sweep_dir}",
        [f"{len(jobs)} jobs: {counts['finished']} finished, {counts['failed']} failed, {counts['unfinished']} "
         f"unfinished. Swept: {', '.join(keys) or 'nothing'}. Variants: {len(variants)}."],
        few_seed_warnings(variants),
        sections,
    )
    (out_dir / "report.html").write_text(render_html(doc))
    report = out_dir / "report.md"
    report.write_text(render_markdown(doc, out_dir))
    return report
