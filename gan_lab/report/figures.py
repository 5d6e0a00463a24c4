"""The report's PNGs. matplotlib's object API on the Agg canvas: no display, no global pyplot state."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan_lab.report.curves import job_curve, variant_band
from gan_lab.report.statistics import Variant


def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _draw_bands(ax, variants: list[Variant], metric: str, x: str) -> bool:
    drawn = False
    for n, v in enumerate(variants):
        curves = [c for c in (job_curve(j, metric) for j in v.jobs) if len(c)]
        if not curves:
            continue
        band = variant_band(curves)
        xs = {"step": band.steps, "images": band.images / 1e3, "minutes": band.minutes}[x]
        keep = np.isfinite(xs)
        if not keep.any():
            continue
        drawn = True
        color = f"C{n}"
        ax.plot(xs[keep], band.median[keep], color=color, marker="o", markersize=3,
                label=f"{v.label} (n={len(curves)})")
        ax.fill_between(xs[keep], band.low[keep], band.high[keep], color=color, alpha=0.2)
    ax.set_xlabel({"step": "step", "images": "thousands of images seen", "minutes": "training minutes"}[x])
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    return drawn


def plot_curve(variants: list[Variant], metric: str, path: Path) -> bool:
    """metric vs step per variant: median over seeds, band = min..max over seeds."""
    fig, (ax,) = _figure(7, 4)
    if not _draw_bands(ax, variants, metric, "step"):
        return False
    ax.set_title(f"{metric} vs step (median over seeds, band = min..max)", fontsize="medium")
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=100)
    return True


def plot_time_to_quality(variants: list[Variant], metric: str, path: Path) -> bool:
    """metric vs images seen and vs training minutes, side by side."""
    fig, axes = _figure(12, 4.2, ncols=2)
    drawn = [_draw_bands(ax, variants, metric, x) for ax, x in zip(axes, ("images", "minutes"), strict=True)]
    if not any(drawn):
        return False
    axes[0].legend(fontsize="small")
    fig.suptitle(f"time to quality: {metric} (median over seeds, band = min..max)", fontsize="medium")
    fig.savefig(path, dpi=100)
    return True


def plot_finals(variants: list[Variant], metric: str, path: Path) -> bool:
    """Final metric per variant: mean with its bootstrap CI, the seeds as grey dots."""
    stats = [(v, v.summary(metric)) for v in variants]
    stats = [(v, s) for v, s in stats if s.n > 0]
    if not stats:
        return False
    fig, (ax,) = _figure(max(5, 2.4 * len(stats)), 4.5)
    for x, (v, s) in enumerate(stats):
        if np.isfinite(s.low):
            ax.errorbar([x], [s.mean], yerr=[[s.mean - s.low], [s.high - s.mean]], fmt="o", capsize=5, color="C0")
        else:
            ax.plot([x], [s.mean], "o", color="C0")
        ys = v.values(metric)
        ax.scatter([x] * len(ys), ys, color="grey", s=12, zorder=3)
    ax.set_xticks(range(len(stats)))
    ax.set_xticklabels([f"{v.label}\n(n={s.n})" for v, s in stats], fontsize="small")
    ax.set_ylabel(f"final {metric}")
    ax.set_title(f"final {metric}: mean, 95% bootstrap CI, seeds (grey)", fontsize="medium")
    ax.grid(alpha=0.3, axis="y")
    fig.savefig(path, dpi=100)
    return True
