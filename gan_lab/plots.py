"""Loss curves from a run's metrics.jsonl: raw values (faint) and a smoothed line, one panel per quantity.

Panel layout: every key ending in `loss` shares the first panel (D and G losses on one axis, as a
researcher compares them); every other numeric metric gets its own panel (for
WGAN-GP `wasserstein` and `gp`, FID when evaluated, ...), except D(x) and D(G(z)) which share one.
Bookkeeping keys (step, epoch, img/s) are left out.

matplotlib is used through its object API with the Agg canvas, so no display and no global
pyplot state are involved (safe inside training and tests).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.tracking import read_metrics

NOT_PLOTTED = {"step", "epoch", "img_per_s", "train_seconds", "time", "wall_time"}


def smooth(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing); weight 0 returns the values."""
    if not 0.0 <= weight < 1.0:
        raise UserError(f"smoothing must be in [0, 1), got {weight}")
    out, avg = [], 0.0
    for i, value in enumerate(values, start=1):
        avg = weight * avg + (1.0 - weight) * value
        out.append(avg / (1.0 - weight**i))  # early values are not pulled towards 0
    return out


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # strings such as "nan" written for non-finite values, lists, None
    return float(value) if math.isfinite(value) else None


def metric_series(records: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values) for every numeric metric, in logging order."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        step = record.get("step")
        if step is None:
            continue
        for key, value in record.items():
            number = _number(value)
            if key in NOT_PLOTTED or number is None:
                continue
            steps, values = series.setdefault(key, ([], []))
            steps.append(int(step))
            values.append(number)
    return series


SHARED_PANELS = {"D(x) and D(G(z))": ("d_real", "d_fake")}  # compared on one axis


def panels(names: list[str]) -> list[tuple[str, list[str]]]:
    """(title, keys) per subplot: all losses together, D's outputs together, one panel per other metric."""
    losses = sorted(n for n in names if n.endswith("loss"))
    layout = [("losses", losses)] if losses else []
    grouped = set(losses)
    for title, keys in SHARED_PANELS.items():
        present = [k for k in keys if k in names]
        if present:
            layout.append((title, present))
            grouped.update(present)
    return layout + [(name, [name]) for name in sorted(names) if name not in grouped]


def plot_metrics(metrics_path: str | os.PathLike, out_path: str | os.PathLike, smoothing: float = 0.9) -> Path:
    """Write a PNG of every metric in metrics.jsonl against the step; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    records = read_metrics(metrics_path)
    series = metric_series(records)
    if not series:
        raise UserError(f"{metrics_path} has no logged metrics to plot; train for at least trainer.log_every steps")
    layout = panels(list(series))
    ncols = 1 if len(layout) == 1 else 2
    nrows = math.ceil(len(layout) / ncols)
    fig = Figure(figsize=(6 * ncols, 3.2 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    for index, (title, keys) in enumerate(layout):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        for n, key in enumerate(keys):
            steps, values = series[key]
            color = f"C{n}"
            ax.plot(steps, values, color=color, alpha=0.3, linewidth=0.8)
            ax.plot(steps, smooth(values, smoothing), color=color, linewidth=1.6, label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(loc="best", fontsize="small")
    fig.suptitle(f"{Path(metrics_path).parent.name}: raw (faint) and smoothed ({smoothing})", fontsize="medium")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=100)
    return out_path
