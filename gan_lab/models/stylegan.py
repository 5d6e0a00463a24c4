"""A mini StyleGAN (Karras et al. 2019) small enough to train on a CPU at 32x32.

Generator: a mapping network z -> w; a learned constant 4x4 input; per
resolution (4, 8, ..., image_size) one block of two style layers, each
conv 3x3 -> noise injection -> LeakyReLU -> AdaIN(w); after every block a 1x1
toRGB whose outputs are upsampled and summed (the "skip" generator of StyleGAN2,
used here instead of progressive growing). Differences from the paper, to stay
small: every block, also the 4x4 one, starts with a conv (the paper's 4x4 block
starts from the constant directly); fewer and narrower layers; a tanh on the
output so images stay in [-1, 1].

Discriminator: the mirror image: fromRGB at full resolution, per resolution two
convs and a 2x average-pool down to 4x4, then the minibatch standard deviation
feature (ProGAN), a conv and two dense layers to one score.

All weights use the equalised learning rate of ProGAN/StyleGAN (N(0, 1) init,
scaled by He's constant at run time), and the mapping network learns 100x
slower (lr_mul 0.01), as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.models.blocks import num_doublings


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then `num_layers` dense layers with LeakyReLU (8 x 512 in the paper)."""

    def __init__(self, latent_dim: int, w_dim: int, num_layers: int, lr_mul: float = 0.01):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers += [EqualLinear(latent_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(pixel_norm(z))


class NoiseInjection(nn.Module):
    """Adds per-pixel Gaussian noise, scaled by a learned per-channel weight (zero at start).

    noise: a given map (N or 1, 1, H, W) instead of a fresh draw, so pictures can hold the noise fixed or
    resample it on purpose (sampling/stylegan_grids.py)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        return x + self.weight * noise.to(x.dtype)


class AdaIN(nn.Module):
    """Instance-normalise each channel, then scale and shift it with a style computed from w."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels)
        self.scale = EqualLinear(w_dim, channels, bias_init=1.0)  # starts as the identity
        self.shift = EqualLinear(w_dim, channels, bias_init=0.0)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.scale(w)[:, :, None, None] * self.norm(x) + self.shift(w)[:, :, None, None]


class StyleLayer(nn.Module):
    """conv 3x3 -> noise injection -> LeakyReLU -> AdaIN(w)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.conv = EqualConv2d(in_channels, out_channels, 3)
        self.noise = NoiseInjection(out_channels)
        self.adain = AdaIN(out_channels, w_dim)

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        return self.adain(F.leaky_relu(self.noise(self.conv(x), noise), 0.2), w)


def upsample(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def block_widths(image_size: int, base_width: int, max_width: int) -> dict[int, int]:
    """Channels per resolution: base_width at full resolution, doubling per halving, capped at max_width."""
    n = num_doublings(image_size, family="StyleGAN")
    return {4 * 2**k: min(max_width, base_width * 2 ** (n - k)) for k in range(n + 1)}


class StyleGANGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        w_dim: int = 128,
        mapping_layers: int = 4,
        base_width: int = 64,
        max_width: int = 256,
        style_mixing_prob: float = 0.9,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.style_mixing_prob = style_mixing_prob
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        widths = block_widths(image_size, base_width, max_width)
        self.resolutions = sorted(widths)
        self.const = nn.Parameter(torch.ones(1, widths[4], 4, 4))
        self.layers = nn.ModuleList()  # two StyleLayers per resolution, in order
        self.to_rgb = nn.ModuleList()
        in_ch = widths[4]
        for res in self.resolutions:
            self.layers.append(StyleLayer(in_ch, widths[res], w_dim))
            self.layers.append(StyleLayer(widths[res], widths[res], w_dim))
            self.to_rgb.append(EqualConv2d(widths[res], channels, 1))
            in_ch = widths[res]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def layer_resolutions(self) -> list[int]:
        """The resolution each style layer works at (two layers per resolution): the shape of its noise map."""
        return [res for res in self.resolutions for _ in range(2)]

    def layer_styles(self, z: Tensor) -> list[Tensor]:
        """The w each style layer gets; in training, with style_mixing_prob, two w's switch at a random layer
        (style mixing regularisation: neighbouring styles must not rely on each other)."""
        w = self.mapping(z)
        styles = [w] * self.num_layers
        # torch's RNG (not Python's), so checkpoints that save torch's RNG state resume exactly.
        if self.training and self.style_mixing_prob > 0 and float(torch.rand(())) < self.style_mixing_prob:
            w2 = self.mapping(torch.randn_like(z))
            crossover = int(torch.randint(1, self.num_layers, ()))
            styles = [w] * crossover + [w2] * (self.num_layers - crossover)
        return styles

    def synthesis(self, styles: list[Tensor] | Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """Images from one w per style layer: a list of num_layers (N, w_dim) tensors or one
        (N, num_layers, w_dim) tensor, so each layer can take another image's style (style mixing).
        noise: one map per layer (N or 1, 1, res, res) at layer_resolutions; None draws fresh noise."""
        if isinstance(styles, Tensor):
            styles = list(styles.unbind(1))
        if len(styles) != self.num_layers or (noise is not None and len(noise) != self.num_layers):
            raise ValueError(f"synthesis takes one style (and noise map) per layer: {self.num_layers}")
        noise = [None] * self.num_layers if noise is None else noise
        x = self.const.expand(styles[0].shape[0], -1, -1, -1)
        rgb = None
        for i, res in enumerate(self.resolutions):
            if res > 4:
                x = upsample(x)
            x = self.layers[2 * i](x, styles[2 * i], noise[2 * i])
            x = self.layers[2 * i + 1](x, styles[2 * i + 1], noise[2 * i + 1])
            out = self.to_rgb[i](x)
            rgb = out if rgb is None else upsample(rgb) + out
        return torch.tanh(rgb)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.synthesis(self.layer_styles(z))


def minibatch_stddev(x: Tensor, group_size: int = 4) -> Tensor:
    """Append the mean standard deviation over groups of samples as one extra channel (ProGAN),
    so D can see a lack of variety. Groups shrink to a divisor of the batch size."""
    b, _, h, w = x.shape
    g = min(group_size, b)
    while b % g:
        g -= 1
    y = x.float().reshape(g, b // g, -1)
    std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=1)  # (b // g,)
    feature = std.view(1, b // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(b, 1, h, w)
    return torch.cat([x, feature.to(x.dtype)], dim=1)


class StyleGANDiscriminator(nn.Module):
    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        base_width: int = 64,
        max_width: int = 256,
        mbstd_group: int = 4,  # 0 = no minibatch standard deviation feature
    ):
        super().__init__()
        self.channels = channels
        self.image_size = image_size
        self.mbstd_group = mbstd_group
        widths = block_widths(image_size, base_width, max_width)
        self.from_rgb = EqualConv2d(channels, widths[image_size], 1)
        blocks = []
        for res in sorted(widths, reverse=True)[:-1]:  # image_size, ..., 8: each halves the resolution
            blocks.append(
                nn.Sequential(
                    EqualConv2d(widths[res], widths[res], 3), nn.LeakyReLU(0.2),
                    EqualConv2d(widths[res], widths[res // 2], 3), nn.LeakyReLU(0.2),
                    nn.AvgPool2d(2),
                )
            )
        self.blocks = nn.Sequential(*blocks)
        extra = 1 if mbstd_group else 0
        self.final_conv = EqualConv2d(widths[4] + extra, widths[4], 3)
        self.final_dense = EqualLinear(widths[4] * 16, widths[4])
        self.out = EqualLinear(widths[4], 1)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = self.blocks(F.leaky_relu(self.from_rgb(x), 0.2))
        if self.mbstd_group:
            h = minibatch_stddev(h, self.mbstd_group)
        h = F.leaky_relu(self.final_conv(h), 0.2)
        h = F.leaky_relu(self.final_dense(h.flatten(1)), 0.2)
        return self.out(h).flatten()
