"""PSNR and SSIM of the paired evaluation on inputs with known answers."""

import math

import pytest
import torch

from gan_lab.evaluation.paired import paired_metrics, psnr, ssim


def test_psnr_of_a_constant_error():
    target = torch.full((2, 3, 16, 16), 100, dtype=torch.uint8)
    assert psnr(target + 5, target).tolist() == pytest.approx([10 * math.log10(255**2 / 25)] * 2)


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (1, 3, 32, 32), generator=gen, dtype=torch.uint8)
    noise = torch.randint(-1, 2, image.shape, generator=gen)
    values = [float(ssim(image, image))]
    for scale in (20, 60, 120):
        values.append(float(ssim((image.int() + scale * noise).clamp(0, 255).to(torch.uint8), image)))
    assert values[0] == pytest.approx(1.0)
    assert values == sorted(values, reverse=True) and values[-1] < 0.8


def test_ssim_of_constant_images_matches_the_formula():
    # Flat images: variances and covariance vanish, so SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1).
    x = torch.full((1, 1, 16, 16), 100, dtype=torch.uint8)
    y = torch.full((1, 1, 16, 16), 150, dtype=torch.uint8)
    c1 = (0.01 * 255) ** 2
    assert float(ssim(x, y)) == pytest.approx((2 * 100 * 150 + c1) / (100**2 + 150**2 + c1))


def test_mean_l1_is_on_the_training_scale():
    target = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    output = torch.full_like(target, 255)
    result = paired_metrics(output, target)
    assert result["l1"] == pytest.approx(2.0) and result["num_pairs"] == 1  # -1 vs +1 in [-1, 1]
