"""Class-conditional GANs (Mirza & Osindero 2014) and the projection discriminator (Miyato & Koyama 2018).

Generators concatenate z with a learned label embedding and feed an unconditional
body (MLP or DCGAN). Discriminators either see the label as an extra input
(`conditioning=concat`: embedding concatenated to the flattened image for the MLP,
a label map as an extra image channel for the DCGAN) or score it by projection
(`conditioning=projection`: logit = head(phi(x)) + <embed(y), phi(x)>).

Sampling hook (label-embedding interpolation in sample.py):
    G.embed_labels(labels) -> (B, E),  G.forward_embedded(z, emb) -> images,
with G(z, labels) == G.forward_embedded(z, G.embed_labels(labels)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gan_lab.errors import UserError
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_lab.models.mlp import MLPDiscriminator, MLPGenerator

CONDITIONINGS = ("concat", "projection")


def require_labels(cond: Tensor | None, num_classes: int, who: str) -> Tensor:
    if cond is None:
        raise UserError(f"{who} is class-conditional and needs labels; use a labelled dataset")
    return cond


class EmbeddingConditionedGenerator(nn.Module):
    """z concatenated with a label embedding, fed to an unconditional body built for latent+embed inputs."""

    def __init__(self, body: nn.Module, latent_dim: int, num_classes: int, embed_dim: int):
        super().__init__()
        if num_classes <= 0:
            raise UserError(
                "a class-conditional generator needs num_classes > 0 (labels missing); use a labelled dataset "
                "(class sub-folders for image_folder) or an unconditional model"
            )
        self.body = body
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.channels = body.channels
        self.image_size = body.image_size
        self.embedding = nn.Embedding(num_classes, embed_dim)

    def embed_labels(self, labels: Tensor) -> Tensor:
        return self.embedding(labels)

    def forward_embedded(self, z: Tensor, emb: Tensor) -> Tensor:
        return self.body(torch.cat([z, emb.to(z.dtype)], dim=1))

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        labels = require_labels(cond, self.num_classes, type(self).__name__)
        return self.forward_embedded(z, self.embed_labels(labels))


class ConditionalMLPGenerator(EmbeddingConditionedGenerator):
    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        embed_dim: int = 50,
        hidden: Sequence[int] = (256, 512, 1024),
        batch_norm: bool = True,
        dropout: float = 0.0,
    ):
        body = MLPGenerator(latent_dim + embed_dim, channels, image_size, hidden, batch_norm, dropout)
        super().__init__(body, latent_dim, num_classes, embed_dim)


class ConditionalDCGANGenerator(EmbeddingConditionedGenerator):
    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        image_size: int = 32,
        num_classes: int = 10,
        embed_dim: int = 50,
        base_width: int = 64,
    ):
        body = DCGANGenerator(latent_dim + embed_dim, channels, image_size, base_width)
        super().__init__(body, latent_dim, num_classes, embed_dim)


class ProjectionHead(nn.Module):
    """The label term of a projection discriminator: <embed(y), features>."""

    def __init__(self, num_classes: int, feature_width: int):
        super().__init__()
        self.embedding = nn.Embedding(num_classes, feature_width)
        nn.init.normal_(self.embedding.weight, 0.0, 0.02)

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return (self.embedding(labels) * features).sum(dim=1)


def check_conditioning(conditioning: str) -> None:
    if conditioning not in CONDITIONINGS:
        raise UserError(f"unknown conditioning {conditioning!r}; use one of {', '.join(CONDITIONINGS)}")


class ConditionalMLPDiscriminator(nn.Module):
    def __init__(
        self,
        channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        embed_dim: int = 50,
        hidden: Sequence[int] = (1024, 512, 256),
        dropout: float = 0.3,
        conditioning: str = "concat",
    ):
        super().__init__()
        check_conditioning(conditioning)
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        self.conditioning = conditioning
        extra = embed_dim if conditioning == "concat" else 0
        self.body = MLPDiscriminator(channels, image_size, hidden, dropout, extra_inputs=extra)
        if conditioning == "concat":
            self.embedding = nn.Embedding(num_classes, embed_dim)
        else:
            self.projection = ProjectionHead(num_classes, self.body.feature_width)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        labels = require_labels(cond, self.num_classes, type(self).__name__)
        flat = x.flatten(1)
        if self.conditioning == "concat":
            h = self.body.features(torch.cat([flat, self.embedding(labels).to(flat.dtype)], dim=1))
            return self.body.head(h).flatten()
        h = self.body.features(flat)
        return self.body.head(h).flatten() + self.projection(h, labels)


class ConditionalDCGANDiscriminator(nn.Module):
    def __init__(
        self,
        channels: int = 1,
        image_size: int = 32,
        num_classes: int = 10,
        base_width: int = 64,
        norm: str = "batch",
        conditioning: str = "concat",
    ):
        super().__init__()
        check_conditioning(conditioning)
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes
        self.conditioning = conditioning
        if conditioning == "concat":
            # The label as an extra image channel: a learned H x W map per class.
            self.label_maps = nn.Embedding(num_classes, image_size * image_size)
            self.body = DCGANDiscriminator(channels + 1, image_size, base_width, norm)
        else:
            self.body = DCGANDiscriminator(channels, image_size, base_width, norm)
            self.projection = ProjectionHead(num_classes, self.body.feature_width)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        labels = require_labels(cond, self.num_classes, type(self).__name__)
        if self.conditioning == "concat":
            maps = self.label_maps(labels).view(-1, 1, self.image_size, self.image_size).to(x.dtype)
            return self.body(torch.cat([x, maps], dim=1))
        h = self.body.features(x)
        return self.body.head(h).flatten() + self.projection(h.sum(dim=(2, 3)), labels)
