"""Fully connected GAN (Goodfellow et al. 2014): images flattened, dropout in D, BatchNorm1d in G."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from gan_lab.models.blocks import init_dcgan_weights


def mlp_trunk(sizes: Sequence[int], batch_norm: bool, dropout: float, activation: nn.Module) -> nn.Sequential:
    """Linear layers through `sizes`, each followed by [BatchNorm1d], activation, [Dropout]."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers.append(nn.Linear(fan_in, fan_out, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(activation)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 28,
        hidden: Sequence[int] = (256, 512, 1024),
        batch_norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.trunk = mlp_trunk([latent_dim, *hidden], batch_norm, dropout, nn.ReLU(inplace=True))
        self.out = nn.Sequential(nn.Linear(hidden[-1], channels * image_size * image_size), nn.Tanh())
        init_dcgan_weights(self)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.out(self.trunk(z)).view(-1, self.channels, self.image_size, self.image_size)


class MLPDiscriminator(nn.Module):
    """`extra_inputs` widens the first layer (a concatenated label embedding in the conditional variant)."""

    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        hidden: Sequence[int] = (1024, 512, 256),
        dropout: float = 0.3,
        batch_norm: bool = False,
        extra_inputs: int = 0,
    ):
        super().__init__()
        self.channels = channels
        self.image_size = image_size
        self.features = mlp_trunk(
            [channels * image_size * image_size + extra_inputs, *hidden], batch_norm, dropout, nn.LeakyReLU(0.2, True)
        )
        self.feature_width = hidden[-1]
        self.head = nn.Linear(hidden[-1], 1)
        init_dcgan_weights(self)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.head(self.features(x.flatten(1))).flatten()
