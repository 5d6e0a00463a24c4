"""DCGAN (Radford et al. 2015): strided (transposed) convolutions, BatchNorm, ReLU / LeakyReLU.

One class covers 32x32 (MNIST) and 64x64 (CelebA): the number of blocks follows
the image size, and the widest layer has base_width * 2^(blocks - 1) channels
(64x64 with base_width=128 gives the paper's 1024 -> 512 -> 256 -> 128).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_lab.errors import UserError
from gan_lab.models.blocks import init_dcgan_weights, norm_2d, num_doublings

UPSAMPLE_MODES = ("transposed", "nearest", "bilinear")


def upsample_conv(in_channels: int, out_channels: int, mode: str) -> list[nn.Module]:
    """A 2x up-sampling layer: the paper's 4x4 stride-2 transposed conv, or resize + 3x3 conv
    (Odena et al. 2016: no checkerboard artefacts from uneven kernel overlap)."""
    if mode == "transposed":
        return [nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1, bias=False)]
    if mode in ("nearest", "bilinear"):
        return [nn.Upsample(scale_factor=2, mode=mode), nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)]
    raise UserError(f"unknown upsample {mode!r}; use one of {', '.join(UPSAMPLE_MODES)}")


class DCGANGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 32,
        base_width: int = 64,
        upsample: str = "transposed",  # transposed (paper) | nearest | bilinear: resize + 3x3 conv
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        n_up = num_doublings(image_size, family="DCGANGenerator")
        width = base_width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(n_up - 1):
            layers += [*upsample_conv(width, width // 2, upsample), nn.BatchNorm2d(width // 2), nn.ReLU(inplace=True)]
            width //= 2
        layers += [*upsample_conv(width, channels, upsample), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int = 1, image_size: int = 32, base_width: int = 64, norm: str = "batch"):
        super().__init__()
        self.channels = channels
        self.image_size = image_size
        n_down = num_doublings(image_size, family="DCGANDiscriminator")
        width = base_width
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm != "batch"),
                norm_2d(norm, width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.feature_width = width
        self.head = nn.Conv2d(width, 1, 4, 1, 0, bias=False)  # 4x4 -> 1x1 logit
        init_dcgan_weights(self)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return torch.flatten(self.head(self.features(x)))
