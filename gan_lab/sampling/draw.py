"""The latent maths of pictures: grids, per-class grids and interpolation paths through z or the label embedding.

Everything random comes from torch.Generator(seed), and draws inside the model (StyleGAN's noise, dropout)
from torch's RNG forked and seeded from seed (utils.rng.seeded_model_rng), so the same call gives the same
images.

Hook for interpolating the label embedding of a class-conditional generator (mode=interpolate over=label):

    G.embed_labels(labels: LongTensor (B,)) -> Tensor (B, ...)   # the label as the network sees it
    G.forward_embedded(z: Tensor (B, latent_dim), emb: Tensor (B, ...)) -> images (B, C, H, W)

with G(z, labels) == G.forward_embedded(z, G.embed_labels(labels)), so the ends of a label
interpolation are exactly the images of the two classes. Mixing two embeddings is then a
"between classes" image. The other modes need only the Generator interface (forward(z, cond)).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from gan_lab.errors import UserError
from gan_lab.utils.latents import balanced_labels, latents, num_classes_of
from gan_lab.utils.rng import seeded_model_rng

__all__ = ["latents", "num_classes_of"]  # re-exported: the sampling API draws its z with them


# -- latents and conditions ------------------------------------------------------
def grid_conditions(generator: nn.Module, n: int, device) -> Tensor | None:
    """Labels 0..K-1 repeated for class-conditional generators, else None."""
    return balanced_labels(n, num_classes_of(generator), device)


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
