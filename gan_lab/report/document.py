"""The report's content, rendered by render_markdown and render_html: sections of paragraphs, tables, figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gan_lab.report.collect import Job
from gan_lab.report.tables import Table


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Gallery:
    """Images shown in a row (each variant's last sample grids)."""

    title: str
    figures: list[Figure]


@dataclass
class Section:
    title: str
    blocks: list[str | Table | Figure | Gallery] = field(default_factory=list)


@dataclass
class Document:
    title: str
    summary: list[str]
    warnings: list[str]
    sections: list[Section]


def in_training_protocol(jobs: list[Job], metric: str) -> str:
    """How eval/<name> in metrics.jsonl was measured, from the first job's config (eval_metric, trainer)."""
    job = next((j for j in jobs if j.config), None)
    if job is None or not metric.startswith("eval/"):
        return f"{metric} as logged in metrics.jsonl"
    name = job.setting("eval_metric.name", "?")
    features = {"classifier_fid": "FID in the feature space of the project's dataset classifier",
                "fid": "FID in Inception features (torch-fidelity)"}.get(str(name), str(name))
    batches = job.setting("trainer.bn_recalibration.batches", 0)
    bn = f", BatchNorm statistics recomputed on {batches} batches of latents" if batches else ""
    return (
        f"{metric}: logged every {job.setting('trainer.eval_every', '?')} steps during training, "
        f"{features}, {job.setting('eval_metric.num_samples', '?')} generated images (fixed latents, seed "
        f"{job.setting('eval_metric.seed', '?')}) vs the {job.setting('eval_metric.reference', '?')} split, "
        f"on the sampling generator (its EMA copy when trainer.ema_decay > 0){bn}"
    )


def last_sample_grid(job: Job) -> Path | None:
    grids = sorted((job.path / "samples").glob("step_*.png"))
    return grids[-1] if grids else None
