"""Frechet distance between Gaussians fitted to two feature sets, in float64.

FID = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Heusel et al. 2017). The
statistics and the matrix square root are float64: in float32 the trace term
loses digits that matter at FID values near 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from torch import Tensor

from gan_lab.errors import UserError


def gaussian_statistics(features: Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """Mean and covariance (unbiased, as in the TTUR reference code) of (N, D) features, float64."""
    x = features.double().numpy() if isinstance(features, Tensor) else np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {x.shape}")
    return {"mu": x.mean(axis=0), "sigma": np.cov(x, rowvar=False), "n": x.shape[0]}


def frechet_distance(stats1: dict, stats2: dict, eps: float = 1e-6) -> float:
    mu1, sigma1 = np.asarray(stats1["mu"], np.float64), np.atleast_2d(np.asarray(stats1["sigma"], np.float64))
    mu2, sigma2 = np.asarray(stats2["mu"], np.float64), np.atleast_2d(np.asarray(stats2["sigma"], np.float64))
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # Rank-deficient covariances (dead ReLU units in a classifier's features) make the product
        # singular; sqrtm still returns a usable root, and a non-finite one is regularised below.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # Singular product (fewer samples than dimensions): regularise as the TTUR code does.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        # Tiny imaginary parts are rounding noise; a large one on the diagonal (the entries the trace uses)
        # means the root is wrong. The same test as pytorch-fid / TTUR: off-diagonal noise of rank-deficient
        # small-sample products does not enter the trace.
        imaginary = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if imaginary > 1e-3:
            raise UserError(
                f"Frechet distance: sqrtm of the covariance product has an imaginary part of {imaginary:.3g} "
                f"(> 1e-3) on its diagonal, so the statistics are unusable; evaluate with more samples than dimensions"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
