"""Pictures from a trained generator and from a run's history.

From a checkpoint: sample grids, per-class grids (same z down a column, one class per row), latent
interpolation (strips and an animated GIF), image-to-image translation (delegated to pix2pix).
From a run dir: the training progress (the periodic fixed-z grids as rows and as a GIF) and loss curves.

Everything random comes from torch.Generator(seed), and draws inside the model (StyleGAN's noise, dropout)
from torch's RNG forked and seeded from seed (gan_lab.rng), so the same command gives the same pictures.
Images follow torchvision's save_image / make_grid conventions: values mapped from [-1, 1], 2 px padding.

Hook for interpolating the label embedding of a class-conditional generator (mode=interpolate over=label):

    G.embed_labels(labels: LongTensor (B,)) -> Tensor (B, ...)   # the label as the network sees it
    G.forward_embedded(z: Tensor (B, latent_dim), emb: Tensor (B, ...)) -> images (B, C, H, W)

with G(z, labels) == G.forward_embedded(z, G.embed_labels(labels)), so the ends of a label
interpolation are exactly the images of the two classes. Mixing two embeddings is then a
"between classes" image. The other modes need only the Generator interface (forward(z, cond)).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageDraw
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from gan_lab.errors import UserError
from gan_lab.loading import load_generator, run_dir_of
from gan_lab.rng import seeded_model_rng

PADDING = 2  # make_grid's default, also used by the trainer's sample grids


# -- latents and conditions ------------------------------------------------------
def latents(n: int, latent_dim: int, seed: int, device) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=gen).to(device)


def num_classes_of(generator: nn.Module) -> int:
    return int(getattr(generator, "num_classes", 0) or 0)


def grid_conditions(generator: nn.Module, n: int, device) -> Tensor | None:
    """Labels 0..K-1 repeated for class-conditional generators, else None."""
    classes = num_classes_of(generator)
    return (torch.arange(n) % classes).to(device) if classes else None


def default_nrow(generator: nn.Module, n: int) -> int:
    classes = num_classes_of(generator)
    if classes and n % classes == 0:
        return classes
    return max(1, int(round(n**0.5)))


def require_latent(generator: nn.Module, mode: str) -> int:
    latent_dim = int(getattr(generator, "latent_dim", 0) or 0)
    if not latent_dim:
        raise UserError(
            f"mode={mode} needs a generator with a latent z, but this one has latent_dim=0 (image-to-image); "
            f"use mode=translate"
        )
    return latent_dim


# -- grids ---------------------------------------------------------------------
@torch.no_grad()
def sample_grid(generator: nn.Module, n: int, seed: int, device) -> Tensor:
    z = latents(n, require_latent(generator, "grid"), seed, device)
    with seeded_model_rng(seed):
        return generator(z, grid_conditions(generator, n, device)).float()


def per_class_inputs(num_classes: int, columns: int, latent_dim: int, seed: int, device) -> tuple[Tensor, Tensor]:
    """z and labels of a per-class grid in row-major order: row r is class r, column c uses latent c."""
    column_z = latents(columns, latent_dim, seed, device)
    z = column_z.repeat(num_classes, 1)  # (K * columns, D): the same z down every column
    labels = torch.arange(num_classes, device=device).repeat_interleave(columns)
    return z, labels


@torch.no_grad()
def sample_per_class(generator: nn.Module, columns: int, seed: int, device) -> Tensor:
    """(K * columns) images, row r = class r, the same z down each column, so only the label changes."""
    classes = num_classes_of(generator)
    if not classes:
        raise UserError("mode=per_class needs a class-conditional generator (num_classes > 0); use mode=grid")
    if columns <= 0:
        raise UserError(f"columns must be a positive number of images per class, got {columns}")
    z, labels = per_class_inputs(classes, columns, require_latent(generator, "per_class"), seed, device)
    with seeded_model_rng(seed):
        return generator(z, labels).float()


def one_at_a_time(fn, *batched: Tensor, seed: int | None = None) -> Tensor:
    """fn applied to each row alone. Batched kernels round differently with the batch size, so this makes a
    frame bit-identical to the generator's output for that input on its own (the end points of a path are
    then exactly G(z1) and G(z2)). Paths are short, so the cost is small. With a seed, every row runs with
    the same in-model draws (StyleGAN's noise), so a path changes only with its input and does not flicker."""
    rows = []
    for i in range(batched[0].shape[0]):
        with seeded_model_rng(seed) if seed is not None else contextlib.nullcontext():
            rows.append(fn(*(x[i : i + 1] for x in batched)))
    return torch.cat(rows)


# -- interpolation --------------------------------------------------------------------------
def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """(1 - t) a + t b for each t: (T, *a.shape). t = 0 and 1 give a and b exactly."""
    t = t.view(-1, *([1] * a.dim())).to(a.dtype)
    return (1 - t) * a + t * b


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation along the great circle between the directions of a and b (Shoemake 1985;
    White 2016 for GAN latents), for 1-D a and b: (T, D). Nearly parallel vectors fall back to lerp."""
    if a.dim() != 1:
        raise ValueError("slerp takes one vector per end point; call it per pair")
    cos = torch.dot(a / a.norm(), b / b.norm()).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if torch.sin(omega).abs() < eps:
        return lerp(a, b, t)
    t = t.view(-1, 1).to(a.dtype)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate(a: Tensor, b: Tensor, steps: int, method: str) -> Tensor:
    """`steps` points from a to b (both included), shape (steps, *a.shape)."""
    if steps < 2:
        raise UserError(f"steps must be at least 2 (the two end points), got {steps}")
    t = torch.linspace(0.0, 1.0, steps, device=a.device)
    if method == "lerp":
        path = lerp(a, b, t)
    elif method == "slerp":
        path = slerp(a.flatten(), b.flatten(), t).view(steps, *a.shape)
    else:
        raise UserError(f"method must be lerp or slerp, got {method!r}")
    path[0], path[-1] = a, b  # end points exactly, whatever rounding the formula does
    return path


def check_embedding_hook(generator: nn.Module) -> None:
    missing = [name for name in ("embed_labels", "forward_embedded") if not callable(getattr(generator, name, None))]
    if missing:
        raise UserError(
            f"over=label needs the generator ({type(generator).__name__}) to provide embed_labels(labels) and "
            f"forward_embedded(z, emb); it lacks {', '.join(missing)}. Use over=z to interpolate the latent instead"
        )


@torch.no_grad()
def interpolate_latents(
    generator: nn.Module, pairs: int, steps: int, method: str, seed: int, device, label: int | None = None
) -> Tensor:
    """Images (pairs, steps, C, H, W): pair i walks from z1_i to z2_i. A conditional generator keeps its
    label fixed along a pair (`label`, or class i % K for pair i)."""
    latent_dim = require_latent(generator, "interpolate")
    ends = latents(2 * pairs, latent_dim, seed, device)
    classes = num_classes_of(generator)
    if label is not None and not 0 <= label < classes:
        raise UserError(f"label={label} is not a class of this generator (it has {classes} classes); drop label=")
    strips = []
    for i in range(pairs):
        z = interpolate(ends[2 * i], ends[2 * i + 1], steps, method)
        if classes:
            cond = torch.full((steps,), i % classes if label is None else label, device=device, dtype=torch.long)
            strips.append(one_at_a_time(generator, z, cond, seed=seed).float())
        else:
            strips.append(one_at_a_time(generator, z, seed=seed).float())
    return torch.stack(strips)


@torch.no_grad()
def interpolate_labels(
    generator: nn.Module, pairs: int, steps: int, method: str, seed: int, device, labels: list[int] | None = None
) -> Tensor:
    """Images (pairs, steps, C, H, W): pair i keeps z_i and walks the label embedding from class a to b
    (`labels` = [a, b], or i % K to (i + 1) % K)."""
    classes = num_classes_of(generator)
    if not classes:
        raise UserError("over=label needs a class-conditional generator (num_classes > 0); use over=z")
    check_embedding_hook(generator)
    if labels is not None and (len(labels) != 2 or not all(0 <= int(c) < classes for c in labels)):
        raise UserError(f"labels must be two classes in [0, {classes}), e.g. labels=[3,8]; got {list(labels)}")
    z_all = latents(pairs, require_latent(generator, "interpolate"), seed, device)
    strips = []
    for i in range(pairs):
        a, b = (int(labels[0]), int(labels[1])) if labels is not None else (i % classes, (i + 1) % classes)
        emb = generator.embed_labels(torch.tensor([a, b], device=device))
        path = interpolate(emb[0], emb[1], steps, method)
        z = z_all[i].expand(steps, -1)
        strips.append(one_at_a_time(generator.forward_embedded, z, path, seed=seed).float())
    return torch.stack(strips)


# -- images and GIFs -------------------------------------------------------------------------
def to_pil(images: Tensor, nrow: int) -> Image.Image:
    """A make_grid of images in [-1, 1] as an RGB PIL image, exactly as save_image would write it."""
    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=PADDING, normalize=True, value_range=(-1, 1))
    array = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    return Image.fromarray(array)


def save_gif(frames: list[Image.Image], path: Path, frame_ms: int) -> Path:
    """An endlessly looping GIF, one frame per image (optimize=False so no frame is merged away)."""
    if not frames:
        raise UserError(f"no frames to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [f.convert("RGB") for f in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(frame_ms), loop=0, optimize=False)
    return path


def save_grid(images: Tensor, path: Path, nrow: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=nrow, padding=PADDING, normalize=True, value_range=(-1, 1))
    return path


def write_interpolation(strips: Tensor, out: Path, frame_ms: int, per_pair: bool = True) -> list[Path]:
    """strips (pairs, steps, C, H, W) -> <out> (all pairs, a row each), <out>_pair<i>.<ext> per pair and
    <out>.gif whose frame t shows every pair at step t. The GIF is last in the returned list."""
    pairs, steps = strips.shape[:2]
    paths = [save_grid(strips.flatten(0, 1), out, nrow=steps)]
    for i in range(pairs if per_pair else 0):
        paths.append(save_grid(strips[i], out.with_name(f"{out.stem}_pair{i}{out.suffix}"), nrow=steps))
    nrow = max(1, int(round(pairs**0.5)))
    frames = [to_pil(strips[:, t], nrow=nrow) for t in range(steps)]
    paths.append(save_gif(frames, out.with_suffix(".gif"), frame_ms))
    return paths


# -- training progress -----------------------------------------------------------------------
STEP_FILE = re.compile(r"step_(\d+)\.png$")


def progress_grids(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the periodic sample grids of a run, in step order."""
    found = []
    for path in (run_dir / "samples").glob("step_*.png"):
        match = STEP_FILE.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    if not found:
        raise UserError(f"no sample grids {run_dir}/samples/step_*.png; is run= a training run directory?")
    return sorted(found)


def run_config(run_dir: Path) -> DictConfig | None:
    """The run's resolved config: .hydra/config.yaml, else the one inside its last checkpoint."""
    hydra_config = run_dir / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        return OmegaConf.load(hydra_config)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if ckpt.is_file():
        from gan_lab.training.checkpoint import load_checkpoint

        return OmegaConf.create(load_checkpoint(ckpt)["config"])
    return None


def grid_cells(grid: Image.Image, size: int) -> list[Image.Image] | None:
    """The size x size images of a make_grid picture in reading order; None when it is not such a grid."""
    cell = size + PADDING
    width, height = grid.size
    if (width - PADDING) % cell or (height - PADDING) % cell:
        return None
    cols, rows = (width - PADDING) // cell, (height - PADDING) // cell
    return [
        grid.crop((PADDING + c * cell, PADDING + r * cell, PADDING + c * cell + size, PADDING + r * cell + size))
        for r in range(rows)
        for c in range(cols)
    ]


def label_rows(sheet: Image.Image, labels: list[str], row_height: int) -> Image.Image:
    """The sheet with a left margin naming each row (the training step)."""
    margin = 8 + 7 * max(len(s) for s in labels)
    out = Image.new("RGB", (sheet.width + margin, sheet.height), "white")
    out.paste(sheet.convert("RGB"), (margin, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(labels):
        draw.text((4, PADDING + i * row_height + row_height // 2 - 6), text, fill="black")
    return out


def progress_sheet(run_dir: Path, k: int, image_size: int | None) -> Image.Image:
    """Rows = saved grids in step order. k > 0: a row holds the first k images of that grid (same fixed z
    in every row, so a column shows one sample improving); k = 0 or a grid that is not a plain grid of
    image_size squares (e.g. pix2pix triplets): the whole grids stacked."""
    grids = progress_grids(run_dir)
    pictures = [Image.open(path).convert("RGB") for _, path in grids]
    labels = [f"{step}" for step, _ in grids]
    if k > 0 and image_size:
        cells = [grid_cells(p, image_size) for p in pictures]
        if all(cells):
            k = min([k, *(len(c) for c in cells)])
            return label_rows(paste_grid([c[:k] for c in cells], image_size), labels, image_size + PADDING)
    width = max(p.width for p in pictures)
    sheet = Image.new("RGB", (width, sum(p.height for p in pictures)), "black")
    top = 0
    for p in pictures:
        sheet.paste(p, (0, top))
        top += p.height
    return sheet


def paste_grid(rows: list[list[Image.Image]], size: int) -> Image.Image:
    """Square images laid out as make_grid does (black 2 px padding), one list per row."""
    cell = size + PADDING
    sheet = Image.new("RGB", (PADDING + cell * len(rows[0]), PADDING + cell * len(rows)), "black")
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(image, (PADDING + c * cell, PADDING + r * cell))
    return sheet


def progress_gif(run_dir: Path, out: Path, frame_ms: int) -> Path:
    """One frame per saved grid with its step written above it."""
    frames = []
    for step, path in progress_grids(run_dir):
        grid = Image.open(path).convert("RGB")
        frame = Image.new("RGB", (grid.width, grid.height + 14), "white")
        frame.paste(grid, (0, 14))
        ImageDraw.Draw(frame).text((2, 1), f"step {step}", fill="black")
        frames.append(frame)
    return save_gif(frames, out, frame_ms)


# -- the command line (sample.py) ------------------------------------------------------------------
CKPT_MODES = ("grid", "per_class", "interpolate", "translate")
RUN_MODES = ("progress", "curves")


def resolve_paths(cfg: DictConfig) -> tuple[Path | None, Path]:
    """(checkpoint, run dir) from ckpt= and/or run=."""
    ckpt = Path(cfg.ckpt) if cfg.get("ckpt") else None
    run = Path(cfg.run) if cfg.get("run") else None
    if ckpt is None and run is None:
        raise UserError("say what to draw from: ckpt=<run>/checkpoints/last.ckpt or run=<run dir>")
    if ckpt is None and cfg.mode in CKPT_MODES:
        ckpt = run / "checkpoints" / "last.ckpt"
    if ckpt is not None and not ckpt.is_file():
        raise UserError(f"no checkpoint at {ckpt}; pass ckpt=<path to a .ckpt file> or run=<a training run dir>")
    if run is None:
        run = run_dir_of(ckpt)
    if not run.is_dir():
        raise UserError(f"run={run} is not a directory; pass the run directory train.py wrote")
    return ckpt, run


def output_path(cfg: DictConfig, default: Path) -> Path:
    return Path(cfg.out) if cfg.get("out") else default


def run_sample(cfg: DictConfig) -> list[Path]:
    """Entry point of sample.py: returns the files written."""
    if cfg.mode not in CKPT_MODES + RUN_MODES:
        raise UserError(f"unknown mode {cfg.mode!r}; use one of {', '.join(CKPT_MODES + RUN_MODES)}")
    ckpt, run = resolve_paths(cfg)
    ext = str(cfg.get("ext", "png")).lstrip(".")
    if cfg.mode == "curves":
        from gan_lab.plots import plot_metrics

        return [plot_metrics(run / "metrics.jsonl", output_path(cfg, run / "plots" / f"curves.{ext}"), cfg.smoothing)]
    if cfg.mode == "progress":
        out = output_path(cfg, run / "plots" / f"progress.{ext}")
        config = run_config(run)
        image_size = OmegaConf.select(config, "dataset.image_size") if config is not None else None
        out.parent.mkdir(parents=True, exist_ok=True)
        progress_sheet(run, int(cfg.k), image_size).save(out)
        return [out, progress_gif(run, out.with_suffix(".gif"), cfg.frame_ms)]
    if cfg.mode == "translate":
        return translate(cfg, ckpt, run)

    from gan_lab.training.precision import resolve_device

    device = resolve_device(cfg.device)
    generator, _, _ = load_generator(ckpt, use_ema=cfg.ema, device=device, trust=bool(cfg.get("trust_checkpoint")))
    samples = run / "samples"
    if cfg.mode == "grid":
        if cfg.n <= 0:
            raise UserError(f"n must be a positive number of images, got {cfg.n}")
        out = output_path(cfg, samples / f"grid_seed{cfg.seed}.{ext}")
        images = sample_grid(generator, cfg.n, cfg.seed, device)
        return [save_grid(images, out, nrow=cfg.nrow or default_nrow(generator, cfg.n))]
    if cfg.mode == "per_class":
        out = output_path(cfg, samples / f"per_class_seed{cfg.seed}.{ext}")
        images = sample_per_class(generator, cfg.columns, cfg.seed, device)
        return [save_grid(images, out, nrow=cfg.columns)]
    # interpolate
    if cfg.pairs <= 0:
        raise UserError(f"pairs must be a positive number of interpolations, got {cfg.pairs}")
    if cfg.over == "z":
        strips = interpolate_latents(generator, cfg.pairs, cfg.steps, cfg.method, cfg.seed, device, cfg.label)
    elif cfg.over == "label":
        labels = list(cfg.labels) if cfg.labels is not None else None
        strips = interpolate_labels(generator, cfg.pairs, cfg.steps, cfg.method, cfg.seed, device, labels)
    else:
        raise UserError(f"over must be z or label, got {cfg.over!r}")
    out = output_path(cfg, samples / f"interp_{cfg.over}_{cfg.method}_seed{cfg.seed}.{ext}")
    return write_interpolation(strips, out, cfg.frame_ms)


def translate(cfg: DictConfig, ckpt: Path, run: Path) -> list[Path]:
    """Image-to-image models: delegate to the pix2pix code, which knows its data and test-time mode."""
    try:
        module = importlib.import_module("gan_lab.pix2pix_translate")
    except ModuleNotFoundError as err:
        if err.name not in ("gan_lab.pix2pix_translate",):
            raise
        raise UserError(
            "mode=translate needs gan_lab.pix2pix_translate (the pix2pix feature), which this install lacks"
        ) from err
    if not cfg.get("input"):
        raise UserError("mode=translate needs input=<an image file or a folder of source images>")
    out_dir = Path(cfg.out) if cfg.get("out") else run / "samples" / "translate"
    from gan_lab.training.precision import resolve_device

    options = {"eval_mode": cfg.eval_mode, "seed": cfg.seed, "use_ema": cfg.ema, "device": resolve_device(cfg.device)}
    accepted = inspect.signature(module.translate).parameters
    options = {k: v for k, v in options.items() if k in accepted}  # ckpt, input, out_dir and what it takes
    written = module.translate(str(ckpt), str(cfg.input), str(out_dir), **options)
    return [Path(p) for p in written] if written else [out_dir]


# -- end of training -----------------------------------------------------------------------------------
def end_of_training_pictures(trainer, tracker) -> list[Path]:
    """Loss curves (always) and an interpolation GIF (models with a latent z) for a finished run, mirrored
    to W&B. Cheap: one plot and pairs x steps generator images."""
    from gan_lab.plots import plot_metrics
    from gan_lab.utils.rng import sampling_mode

    written = []
    run_dir = Path(trainer.run_dir)
    if tracker.metrics_path.exists():
        curves = plot_metrics(tracker.metrics_path, run_dir / "plots" / "curves.png")
        tracker.log_file("loss_curves", curves)
        written.append(curves)
    G = trainer.sampling_generator
    if getattr(G, "latent_dim", 0):
        with sampling_mode(G, trainer.cfg.sample_mode):
            strips = interpolate_latents(G, pairs=4, steps=8, method="slerp", seed=trainer.seed, device=trainer.device)
        paths = write_interpolation(
            strips, run_dir / "samples" / "interpolation.png", frame_ms=150, per_pair=False
        )
        tracker.log_file("interpolation", paths[-1])
        written += [paths[0], paths[-1]]
    return written
