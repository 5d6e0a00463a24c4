"""Small pieces shared by several model families."""

from __future__ import annotations

import math

from torch import nn

from gan_lab.errors import UserError


def num_doublings(image_size: int, start: int = 4, family: str = "model") -> int:
    """How many 2x up-samplings take `start` x `start` to image_size, or a clear error."""
    n = math.log2(image_size / start) if image_size > 0 else -1
    if n < 1 or n != int(n):
        sizes = ", ".join(str(start * 2**k) for k in range(1, 6))
        raise UserError(
            f"{family} cannot produce {image_size}x{image_size} images; use an image size of "
            f"{sizes} (set dataset.image_size)"
        )
    return int(n)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2015): conv N(0, 0.02), norm scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def norm_2d(kind: str, channels: int) -> nn.Module:
    """The normalisation a discriminator block uses: batch (DCGAN), layer or none (WGAN-GP critic)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # LayerNorm over (C, H, W), as in the WGAN-GP paper
    if kind == "none":
        return nn.Identity()
    raise UserError(f"unknown norm {kind!r}; use one of batch, layer, none")



def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every weight matrix / kernel of `module`.

    Each layer's own `weight` parameter of 2 or more dimensions (conv, transposed conv, linear, embedding,
    and custom layers such as StyleGAN's equalised ones) is divided by its largest singular value, from
    one power iteration per training forward, so each such layer is 1-Lipschitz (custom layers that scale
    their weight by a constant are then that constant-Lipschitz). Used on discriminators
    (model.discriminator.spectral_norm=true), usually with norm=none and the hinge loss. Changes the module
    in place and returns it.
    """
    from torch.nn.utils.parametrizations import spectral_norm

    layers = [m for m in module.modules() if isinstance(m._parameters.get("weight"), nn.Parameter)
              and m._parameters["weight"].ndim >= 2]
    if not layers:
        raise UserError(f"spectral_norm=true but {type(module).__name__} has no weight matrix or kernel")
    for layer in layers:
        # Kernels are normalised as the (out, in*k*k) matrix, as in SN-GAN; a transposed conv stores (in, out, ...).
        spectral_norm(layer, dim=1 if isinstance(layer, nn.ConvTranspose2d) else 0)
    return module
