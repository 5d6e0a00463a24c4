"""sample.py's modes: conf/mode/<mode>.yaml names one of these functions (`draw`) and what it reads (`needs`).

Each takes the sample config, the checkpoint (None for run modes) and the run dir, and returns the files it
wrote. A new mode is a function here and a file in conf/mode/.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf

from gan_lab.errors import UserError
from gan_lab.loading import load_generator, run_dir_of
from gan_lab.sampling.draw import (
    default_nrow,
    interpolate_labels,
    interpolate_latents,
    sample_grid,
    sample_per_class,
)
from gan_lab.sampling.files import save_grid, write_interpolation
from gan_lab.sampling.progress import progress_gif, progress_sheet, run_config
from gan_lab.sampling.translate import translate as translate_images


def resolve_paths(cfg: DictConfig) -> tuple[Path | None, Path]:
    """(checkpoint, run dir) from ckpt= and/or run=."""
    ckpt = Path(cfg.ckpt) if cfg.get("ckpt") else None
    run = Path(cfg.run) if cfg.get("run") else None
    if ckpt is None and run is None:
        raise UserError("say what to draw from: ckpt=<run>/checkpoints/last.ckpt or run=<run dir>")
    if ckpt is None and cfg.needs == "checkpoint":
        ckpt = run / "checkpoints" / "last.ckpt"
    if ckpt is not None and not ckpt.is_file():
        raise UserError(f"no checkpoint at {ckpt}; pass ckpt=<path to a .ckpt file> or run=<a training run dir>")
    if run is None:
        run = run_dir_of(ckpt)
    if not run.is_dir():
        raise UserError(f"run={run} is not a directory; pass the run directory train.py wrote")
    return ckpt, run


def run_sample(cfg: DictConfig) -> list[Path]:
    """Entry point of sample.py: the selected mode's function; returns the files written."""
    ckpt, run = resolve_paths(cfg)
    return get_method(cfg.draw)(cfg, ckpt, run)


def output_path(cfg: DictConfig, default_name: str, under: Path) -> Path:
    ext = str(cfg.get("ext", "png")).lstrip(".")
    return Path(cfg.out) if cfg.get("out") else under / f"{default_name}.{ext}"


def _generator(cfg: DictConfig, ckpt: Path):
    from gan_lab.training.precision import resolve_device

    device = resolve_device(cfg.device)
    generator, _, _ = load_generator(ckpt, use_ema=cfg.ema, device=device, trust=bool(cfg.get("trust_checkpoint")))
    return generator, device


# -- from a checkpoint ------------------------------------------------------------------------------------------
def grid(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    generator, device = _generator(cfg, ckpt)
    images = sample_grid(generator, cfg.n, cfg.seed, device)
    out = output_path(cfg, f"grid_seed{cfg.seed}", run / "samples")
    return [save_grid(images, out, nrow=cfg.nrow or default_nrow(generator, cfg.n))]


def per_class(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    generator, device = _generator(cfg, ckpt)
    images = sample_per_class(generator, cfg.columns, cfg.seed, device)
    return [save_grid(images, output_path(cfg, f"per_class_seed{cfg.seed}", run / "samples"), nrow=cfg.columns)]


def interpolate(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    generator, device = _generator(cfg, ckpt)
    if cfg.over == "label":
        labels = list(cfg.labels) if cfg.labels is not None else None
        strips = interpolate_labels(generator, cfg.pairs, cfg.steps, str(cfg.method), cfg.seed, device, labels)
    else:
        strips = interpolate_latents(generator, cfg.pairs, cfg.steps, str(cfg.method), cfg.seed, device, cfg.label)
    out = output_path(cfg, f"interp_{cfg.over}_{cfg.method}_seed{cfg.seed}", run / "samples")
    return write_interpolation(strips, out, cfg.frame_ms)


def translate(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    """Image-to-image models: the source images through G, with the pix2pix test-time mode."""
    from gan_lab.training.precision import resolve_device

    if not cfg.get("input"):
        raise UserError("mode=translate needs input=<an image file or a folder of source images>")
    out_dir = Path(cfg.out) if cfg.get("out") else run / "samples" / "translate"
    written = translate_images(
        str(ckpt), str(cfg.input), str(out_dir), eval_mode=str(cfg.eval_mode), seed=cfg.seed, use_ema=cfg.ema,
        device=resolve_device(cfg.device), trust=bool(cfg.get("trust_checkpoint")),
    )
    return [Path(p) for p in written] if written else [out_dir]


# -- from a run dir ---------------------------------------------------------------------------------------------
def progress(cfg: DictConfig, ckpt: Path | None, run: Path) -> list[Path]:
    out = output_path(cfg, "progress", run / "plots")
    config = run_config(run)
    image_size = OmegaConf.select(config, "dataset.image_size") if config is not None else None
    out.parent.mkdir(parents=True, exist_ok=True)
    progress_sheet(run, int(cfg.k), image_size).save(out)
    return [out, progress_gif(run, out.with_suffix(".gif"), cfg.frame_ms)]


def curves(cfg: DictConfig, ckpt: Path | None, run: Path) -> list[Path]:
    from gan_lab.plots import plot_metrics

    return [plot_metrics(run / "metrics.jsonl", output_path(cfg, "curves", run / "plots"), cfg.smoothing)]
