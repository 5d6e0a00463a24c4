"""Gaussian Parzen-window log-likelihood, the protocol of Goodfellow et al. 2014.

Fit an isotropic Gaussian kernel density on N generated samples, choose its
width sigma on a validation split by grid search, report the mean
log-likelihood of the test split with its standard error, in nats, on pixels
scaled to [0, 1]:

    log p(x) = logsumexp_i(-|x - g_i|^2 / (2 sigma^2)) - log N - (d/2) log(2 pi sigma^2)

Squared distances are computed once per test batch (float64), then every sigma
of the grid reuses them, so 10k x 10k fits in memory and the grid costs little.

Caveat (Theis, van den Oord & Bethge 2016, "A note on the evaluation of
generative models"): this estimate is poor in high dimensions even with many
samples, can rank a model that memorises a few images above a good one, and
says little about sample quality. Report it for comparison with the GAN paper
(225 +- 2 nats on MNIST at 28x28, d=784), never as evidence on its own.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

DEFAULT_SIGMAS = tuple(np.logspace(-1, 0, 10).tolist())  # the grid of the GAN paper's parzen_ll.py


def to_unit_pixels(images_uint8: Tensor) -> Tensor:
    """uint8 (N, C, H, W) -> float64 (N, C*H*W) in [0, 1]."""
    return images_uint8.reshape(images_uint8.shape[0], -1).double() / 255.0


def parzen_log_likelihoods(
    centers: Tensor, x: Tensor, sigmas: tuple[float, ...] | list[float], batch_size: int = 500
) -> Tensor:
    """log p(x_j) under the Parzen window on `centers` for each sigma: float64 (len(sigmas), len(x)).

    centers, x: (N, d) and (M, d) float pixels in [0, 1].
    """
    centers, x = centers.double(), x.double()
    n, d = centers.shape
    c_sq = (centers * centers).sum(1)
    sig = torch.tensor(list(sigmas), dtype=torch.float64)
    norm = math.log(n) + 0.5 * d * torch.log(2 * math.pi * sig**2)  # (S,)
    out = torch.empty(len(sigmas), x.shape[0], dtype=torch.float64)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start : start + batch_size]
        dist_sq = ((xb * xb).sum(1, keepdim=True) + c_sq - 2.0 * xb @ centers.T).clamp_(min=0)  # (B, N)
        for s, sigma in enumerate(sigmas):
            out[s, start : start + xb.shape[0]] = torch.logsumexp(-dist_sq / (2 * sigma**2), dim=1) - norm[s]
    return out


def select_sigma(centers: Tensor, validation: Tensor, sigmas=DEFAULT_SIGMAS, batch_size: int = 500):
    """The sigma of the grid with the highest mean validation log-likelihood, and the mean per sigma."""
    means = parzen_log_likelihoods(centers, validation, sigmas, batch_size).mean(1)
    best = int(torch.argmax(means))
    return float(sigmas[best]), {float(s): float(m) for s, m in zip(sigmas, means.tolist(), strict=True)}


def parzen_evaluate(
    samples: Tensor, validation: Tensor, test: Tensor, sigmas=DEFAULT_SIGMAS, batch_size: int = 500
) -> dict:
    """The whole protocol on uint8 images: sigma by grid search on validation, mean test LL +- standard error."""
    centers, val, tst = to_unit_pixels(samples), to_unit_pixels(validation), to_unit_pixels(test)
    sigma, grid = select_sigma(centers, val, sigmas, batch_size)
    ll = parzen_log_likelihoods(centers, tst, [sigma], batch_size)[0]
    if sigma in (min(sigmas), max(sigmas)):
        warnings = [f"the chosen sigma {sigma:.4g} is at the edge of the grid; widen parzen.sigmas"]
    else:
        warnings = []
    return {
        "value": ll.mean().item(),
        "stderr": (ll.std(unbiased=True) / math.sqrt(ll.shape[0])).item(),
        "sigma": sigma,
        "validation_mean_ll_per_sigma": grid,
        "num_kernels": centers.shape[0],
        "num_validation": val.shape[0],
        "num_test": tst.shape[0],
        "dimensions": centers.shape[1],
        "units": "nats per image, pixels scaled to [0, 1]",
        "caveat": "Theis et al. 2016: Parzen estimates are unreliable in high dimensions; compare, do not trust",
        "warnings": warnings,
    }
