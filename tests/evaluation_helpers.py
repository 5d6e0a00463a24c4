"""Tiny stand-ins for the evaluation tests: a TorchScript feature network and one-class generators."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class TinyFeatures(nn.Module):
    """(N, 3, H, W) floats -> (N, 8) features: conv, global average pool, linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=8)
        self.fc = nn.Linear(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def save_tiny_torchscript(directory: Path) -> Path:
    torch.manual_seed(0)
    path = Path(directory) / "tiny_features.pt"
    torch.jit.script(TinyFeatures().eval()).save(str(path))
    return path


class TemplateGenerator(nn.Module):
    """Ignores z; draws the class template of the label it is asked for (or always `fixed_class`)."""

    def __init__(self, templates: torch.Tensor, fixed_class: int | None = None, conditional: bool = False):
        super().__init__()
        self.register_buffer("templates", templates)  # (K, C, H, W) in [-1, 1]
        self.fixed_class = fixed_class
        self.latent_dim = 4
        self.num_classes = templates.shape[0] if conditional else 0

    def forward(self, z, cond=None):
        if cond is None:
            cond = torch.full((z.shape[0],), self.fixed_class, dtype=torch.long)
        return self.templates[cond]


def class_templates(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean image of each class, in [-1, 1]."""
    return torch.stack([images[labels == k].float().mean(0) for k in range(num_classes)]) / 127.5 - 1
