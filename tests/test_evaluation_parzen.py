"""Parzen-window log-likelihood against a direct scipy computation on tiny data."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gan_lab.evaluation.parzen import parzen_evaluate, parzen_log_likelihoods, select_sigma, to_unit_pixels


def direct_log_likelihood(centers: np.ndarray, x: np.ndarray, sigma: float) -> np.ndarray:
    """log (1/N) sum_i N(x; c_i, sigma^2 I), one Gaussian at a time."""
    cov = sigma**2 * np.eye(centers.shape[1])
    per_kernel = np.stack([multivariate_normal(mean=c, cov=cov).logpdf(x) for c in centers])  # (N, M)
    return logsumexp(per_kernel, axis=0) - math.log(centers.shape[0])


def test_log_likelihood_matches_scipy_for_every_sigma_and_any_batch_size():
    rng = np.random.default_rng(0)
    centers, x = rng.random((7, 5)), rng.random((9, 5))
    sigmas = [0.1, 0.3, 1.0]
    ours = parzen_log_likelihoods(torch.from_numpy(centers), torch.from_numpy(x), sigmas, batch_size=4)
    for s, sigma in enumerate(sigmas):
        np.testing.assert_allclose(ours[s].numpy(), direct_log_likelihood(centers, x, sigma), rtol=1e-9, atol=1e-9)


def test_sigma_selection_picks_the_best_of_the_grid():
    rng = np.random.default_rng(1)
    centers = torch.from_numpy(rng.normal(0.5, 0.2, (40, 3)))
    validation = torch.from_numpy(rng.normal(0.5, 0.2, (30, 3)))
    grid = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    sigma, means = select_sigma(centers, validation, grid)
    direct = [direct_log_likelihood(centers.numpy(), validation.numpy(), s).mean() for s in grid]
    assert sigma == grid[int(np.argmax(direct))]
    assert sigma not in (grid[0], grid[-1])  # neither the spikiest nor the flattest kernel wins here
    np.testing.assert_allclose([means[s] for s in grid], direct, rtol=1e-9)


def test_whole_protocol_on_uint8_images_reports_mean_and_standard_error():
    gen = torch.Generator().manual_seed(0)
    samples = torch.randint(0, 256, (30, 1, 2, 2), generator=gen, dtype=torch.uint8)
    validation = torch.randint(0, 256, (12, 1, 2, 2), generator=gen, dtype=torch.uint8)
    test = torch.randint(0, 256, (15, 1, 2, 2), generator=gen, dtype=torch.uint8)
    grid = (0.05, 0.1, 0.2, 0.4)
    result = parzen_evaluate(samples, validation, test, grid)
    ll = direct_log_likelihood(to_unit_pixels(samples).numpy(), to_unit_pixels(test).numpy(), result["sigma"])
    assert result["value"] == pytest.approx(ll.mean(), rel=1e-9)
    assert result["stderr"] == pytest.approx(ll.std(ddof=1) / math.sqrt(15), rel=1e-9)
    assert result["dimensions"] == 4 and result["num_kernels"] == 30 and result["num_test"] == 15
    assert to_unit_pixels(samples).max() <= 1.0
