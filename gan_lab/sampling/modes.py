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
from gan_lab.sampling.files import save_grid, write_interpolation, write_sidecar
from gan_lab.sampling.progress import progress_gif, progress_sheet, run_config
from gan_lab.sampling.stylegan_grids import (
    mix_groups,
    noise_resampling_grid,
    require_style_hook,
    style_mixing_grid,
    with_std_column,
)
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


def _loaded(cfg: DictConfig, ckpt: Path):
    from gan_lab.training.precision import resolve_device

    device = resolve_device(cfg.device)
    generator, _, state = load_generator(
        ckpt, use_ema=cfg.ema, device=device, trust=bool(cfg.get("trust_checkpoint")),
        bn_recalibration=bool(cfg.get("bn_recalibration", True)),
    )
    return generator, device, state


def _generator(cfg: DictConfig, ckpt: Path):
    generator, device, _ = _loaded(cfg, ckpt)
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


# -- StyleGAN's figures: each picture with a sidecar JSON saying which weights and seeds made it ---------------
def _stylegan(cfg: DictConfig, ckpt: Path, mode: str):
    """The generator (checked to be a StyleGAN before anything is drawn or written), its device and what the
    sidecar records about it: which weights were used (the checkpoint's "ema" or "generator" entry)."""
    generator, device, state = _loaded(cfg, ckpt)
    require_style_hook(generator, mode)
    weights = "ema" if state["used_ema"] else "generator"
    about = {
        "mode": mode, "checkpoint": str(ckpt), "step": state.get("step"), "generator": type(generator).__name__,
        "weights": weights, "ema_requested": bool(cfg.ema), "seed": int(cfg.seed),
        "noise_seed": int(cfg.seed if cfg.noise_seed is None else cfg.noise_seed),
        "noise_strength": float(cfg.noise_strength), "layer_resolutions": list(generator.layer_resolutions),
    }
    return generator, device, about


def style_mixing(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    generator, device, about = _stylegan(cfg, ckpt, "style_mixing")
    groups = mix_groups(generator.layer_resolutions, list(cfg.mix_layers) if cfg.mix_layers is not None else None)
    cells = style_mixing_grid(
        generator, cfg.sources_a, cfg.sources_b, groups, cfg.seed, about["noise_seed"], cfg.noise_strength, device
    )
    out = output_path(cfg, f"style_mixing_{about['weights']}_seed{cfg.seed}", run / "samples")
    image = save_grid(cells.flatten(0, 1), out, nrow=cells.shape[1])
    nb = cfg.sources_b
    groups_info = [
        {"name": g.name, "layers_from_b": [g.start, g.stop], "rows": list(range(1 + k * nb, 1 + (k + 1) * nb)),
         "resolutions_from_b": sorted(set(generator.layer_resolutions[g.start : g.stop]))}
        for k, g in enumerate(groups)
    ]
    layout = (
        "row 0: sources A (column 0 blank); then per group, sources_b rows: column 0 = source B, column 1 + a = "
        "B's w at the group's style layers [start, stop), A's at the others; one noise realization throughout"
    )
    record = {**about, "sources_a": cfg.sources_a, "sources_b": cfg.sources_b, "groups": groups_info,
              "layout": layout}
    return [image, write_sidecar(image, record)]


def noise_resampling(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    generator, device, about = _stylegan(cfg, ckpt, "noise_resampling")
    images, std = noise_resampling_grid(
        generator, cfg.rows, cfg.resamples, cfg.std_samples, cfg.seed, about["noise_seed"], cfg.noise_strength, device
    )
    cells, scale = with_std_column(images, std)
    out = output_path(cfg, f"noise_resampling_{about['weights']}_seed{cfg.seed}", run / "samples")
    image = save_grid(cells.flatten(0, 1), out, nrow=cells.shape[1])
    layout = (
        "row i: one w; columns 0..resamples-1: noise realizations 0..resamples-1; last column: each pixel's "
        "standard deviation over realizations 0..std_samples-1 (images in [-1, 1], mean over channels), "
        "black 0, white std_scale"
    )
    record = {**about, "rows": cfg.rows, "resamples": cfg.resamples, "std_samples": cfg.std_samples,
              "std_scale": scale, "mean_std_per_row": [float(s) for s in std.mean(dim=(1, 2))], "layout": layout}
    return [image, write_sidecar(image, record)]


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
