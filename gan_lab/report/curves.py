"""Time to quality: a metric against images seen and training minutes, per job and per variant.

Images seen = step x trainer.batch_size x trainer.n_critic (real images shown to D, per process).
Training minutes = metrics.jsonl's train_seconds (wall time of fit() outside in-training evaluation),
interpolated at steps logged without it and continued across resumes (each fit() restarts it at 0).
A variant's curve is the median over its seeds at each evaluated step; the band is min..max over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import trapezoid

from gan_lab.report.collect import Job, is_finite, number
from gan_lab.report.statistics import Variant, lower_is_better


@dataclass
class Curve:
    """One job's metric at its evaluated steps (ascending)."""

    steps: np.ndarray
    images: np.ndarray
    minutes: np.ndarray  # nan where the step lies outside the logged train_seconds
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)


def training_minutes(records: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(steps, cumulative minutes) from train_seconds; a drop (a resumed fit() restarting at 0) adds the last
    value seen before it, so time keeps counting across resumes."""
    steps, minutes, offset, previous = [], [], 0.0, 0.0
    for r in records:
        seconds, step = number(r.get("train_seconds")), number(r.get("step"))
        if not (is_finite(seconds) and is_finite(step)):
            continue
        if seconds < previous:
            offset += previous
        previous = seconds
        steps.append(step)
        minutes.append((offset + seconds) / 60.0)
    return np.asarray(steps), np.asarray(minutes)


def images_per_step(job: Job) -> int:
    batch = number(job.setting("trainer.batch_size")) or 0
    return int(batch * (number(job.setting("trainer.n_critic", 1)) or 1))


def job_curve(job: Job, metric: str) -> Curve:
    points: dict[int, float] = {}
    for r in job.records:
        value, step = number(r.get(metric)), number(r.get("step"))
        if is_finite(value) and is_finite(step):
            points[int(step)] = value  # a step logged twice (resume) keeps its latest value
    steps = np.asarray(sorted(points), dtype=float)
    t_steps, t_minutes = training_minutes(job.records)
    if len(t_steps) and len(steps):
        minutes = np.interp(steps, t_steps, t_minutes, left=math.nan, right=math.nan)
    else:
        minutes = np.full(len(steps), math.nan)
    values = np.asarray([points[int(s)] for s in steps], dtype=float)
    return Curve(steps, steps * images_per_step(job), minutes, values)


@dataclass
class Band:
    """A variant's curve: at each step some seed evaluated, the median over seeds and their min..max."""

    steps: np.ndarray
    images: np.ndarray
    minutes: np.ndarray  # median over seeds
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    seeds: np.ndarray  # how many seeds have a value at the step


def variant_band(curves: list[Curve]) -> Band:
    steps = sorted({float(s) for c in curves for s in c.steps})
    rows = {name: [] for name in ("images", "minutes", "median", "low", "high", "seeds")}
    for step in steps:
        at = [(c.images[i], c.minutes[i], c.values[i]) for c in curves for i in np.flatnonzero(c.steps == step)]
        images, minutes, values = (np.asarray(x, dtype=float) for x in zip(*at, strict=True))
        rows["images"].append(np.median(images))
        rows["minutes"].append(np.nanmedian(minutes) if np.isfinite(minutes).any() else math.nan)
        rows["median"].append(np.median(values))
        rows["low"].append(values.min())
        rows["high"].append(values.max())
        rows["seeds"].append(len(values))
    return Band(np.asarray(steps), *(np.asarray(rows[k], dtype=float) for k in rows))


@dataclass
class Reached:
    step: float
    images: float
    minutes: float


def first_reaching(curve: Curve, threshold: float, lower_better: bool) -> Reached | None:
    """The first evaluated step at which the metric is at or better than threshold."""
    hits = np.flatnonzero(curve.values <= threshold if lower_better else curve.values >= threshold)
    if not len(hits):
        return None
    i = hits[0]
    return Reached(float(curve.steps[i]), float(curve.images[i]), float(curve.minutes[i]))


def area_under_curve(curve: Curve) -> float:
    """Trapezoidal area under metric vs millions of images seen (lower = reached low values sooner, for FID)."""
    if len(curve) < 2:
        return math.nan
    return float(trapezoid(curve.values, curve.images / 1e6))


@dataclass
class BestLast:
    best: float
    best_step: float
    last: float
    last_step: float


def best_and_last(curve: Curve, metric: str) -> BestLast | None:
    """The best evaluated value (what checkpoints/best.ckpt holds for the monitored metric) and the last."""
    if not len(curve):
        return None
    i = int(np.argmin(curve.values) if lower_is_better(metric) else np.argmax(curve.values))
    return BestLast(float(curve.values[i]), float(curve.steps[i]), float(curve.values[-1]), float(curve.steps[-1]))


def default_thresholds(variants: list[Variant], metric: str) -> list[float]:
    """With no --thresholds: 1/4, 1/2 and 3/4 of the way from the worst variant's median starting value to the
    best variant's median best value, to 3 significant figures (levels some variants reach and others may not)."""
    bests, starts = [], []
    for v in variants:
        curves = [c for c in (job_curve(j, metric) for j in v.jobs) if len(c)]
        if curves:
            bests.append(float(np.median([best_and_last(c, metric).best for c in curves])))
            starts.append(float(np.median([c.values[0] for c in curves])))
    if not bests:
        return []
    lower = lower_is_better(metric)
    start, best = (max(starts), min(bests)) if lower else (min(starts), max(bests))
    return list(dict.fromkeys(float(f"{start + f * (best - start):.3g}") for f in (0.25, 0.5, 0.75)))
