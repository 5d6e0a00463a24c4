"""FID / KID / PR through torch-fidelity with a tiny TorchScript feature network (no Inception here)."""

import urllib.error

import numpy as np
import pytest
import torch
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from gan_lab.errors import UserError
from gan_lab.evaluation.fidelity import (
    extract_features,
    fidelity_metrics,
    is_torchscript_archive,
    reference_features,
    resolve_feature_network,
)
from gan_lab.evaluation.frechet import frechet_distance, gaussian_statistics
from tests.evaluation_helpers import save_tiny_torchscript


def images(n: int, seed: int, brightness: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 160, (n, 1, 16, 16), generator=gen) + brightness
    return x.clamp(0, 255).to(torch.uint8)


def test_frechet_distance_is_zero_on_itself_and_the_squared_mean_shift_for_equal_covariances():
    x = torch.randn(500, 6, dtype=torch.float64)
    stats = gaussian_statistics(x)
    assert abs(frechet_distance(stats, stats)) < 1e-8
    shift = torch.tensor([1.0, -2.0, 0.0, 0.5, 0.0, 0.0], dtype=torch.float64)
    shifted = gaussian_statistics(x + shift)  # same covariance: FID = |shift|^2
    assert frechet_distance(stats, shifted) == pytest.approx(5.25, rel=1e-6)
    assert stats["sigma"].dtype == np.float64


def test_frechet_distance_of_non_commuting_covariances_matches_the_symmetric_form():
    """tr((S1 S2)^(1/2)) = tr((S1^(1/2) S2 S1^(1/2))^(1/2)): the symmetric form, from eigendecompositions only.
    For covariances that do not commute it differs from tr(S1^(1/2) S2^(1/2)) (here by about 0.5)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    sigma1, sigma2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    w, v = np.linalg.eigh(sigma1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    trace_root = np.sqrt(np.linalg.eigvalsh(root1 @ sigma2 @ root1)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root
    fid = frechet_distance({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2})
    assert fid == pytest.approx(expected, rel=1e-9)
    w2, v2 = np.linalg.eigh(sigma2)
    wrong = 2 * np.trace(root1 @ v2 @ np.diag(np.sqrt(w2)) @ v2.T)  # the mistake this test guards against
    assert abs(wrong - 2 * trace_root) > 0.1


def test_a_large_imaginary_part_of_the_root_is_an_error_not_dropped():
    """As pytorch-fid / TTUR: an imaginary part above 1e-3 means the statistics are unusable."""
    good = {"mu": np.zeros(2), "sigma": np.eye(2)}
    not_a_covariance = {"mu": np.zeros(2), "sigma": np.diag([1.0, -1.0])}  # sqrtm of diag(1, -1) has 1j
    with pytest.raises(UserError, match=r"imaginary part of 1 \(> 1e-3\)"):
        frechet_distance(good, not_a_covariance)
    tiny = {"mu": np.zeros(2), "sigma": np.diag([1.0, -1e-9])}  # rounding-size imaginary part: kept real
    assert frechet_distance(good, tiny) == pytest.approx(1.0, abs=1e-3)


def test_torchscript_network_is_registered_and_preprocesses_like_the_fid_inception(tmp_path):
    path = save_tiny_torchscript(tmp_path)
    assert is_torchscript_archive(path)
    torch.save({"w": torch.zeros(2)}, tmp_path / "state_dict.pt")
    assert not is_torchscript_archive(tmp_path / "state_dict.pt")

    network = resolve_feature_network("auto", str(path))
    assert network.kind == "torchscript" and network.logits_layer is None
    assert len(network.weights_sha256) == 64
    x = images(6, seed=0)
    features = extract_features(x, network, batch_size=4)["pool"]

    model = torch.jit.load(str(path))
    rgb = x.expand(-1, 3, -1, -1).float()
    expected = model((interpolate_bilinear_2d_like_tensorflow1x(rgb, size=(299, 299), align_corners=False) - 128) / 128)
    assert features.shape == (6, 8)
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5)


def test_fid_of_a_set_with_itself_is_zero_and_a_shifted_set_is_far(tmp_path):
    network = resolve_feature_network("torchscript", str(save_tiny_torchscript(tmp_path)), input_size=32)
    ref_images = images(64, seed=1)
    key = {"dataset": "noise", "split": "test", "size": 64, "shape": "1x16x16"}
    ref, _ = reference_features(lambda: ref_images, key, network, tmp_path / "cache", batch_size=32)
    same = fidelity_metrics(ref_images, ref, ["fid", "kid", "prc"], network, 32, kid_subsets=5, kid_subset_size=32)
    shifted = fidelity_metrics(images(64, seed=1, brightness=90), ref, ["fid", "kid"], network, 32, 5, 32)
    assert abs(same["fid"]["value"]) < 1e-6
    assert same["prc"]["precision"] == 1.0 and same["prc"]["recall"] == 1.0
    assert shifted["fid"]["value"] > 0.01
    assert shifted["kid"]["value"] > same["kid"]["value"]


def test_reference_features_are_cached_and_reused(tmp_path):
    network = resolve_feature_network("auto", str(save_tiny_torchscript(tmp_path)), input_size=32)
    calls = []

    def load_images():
        calls.append(1)
        return images(20, seed=2)

    key = {"dataset": "noise", "split": "test", "size": 20, "shape": "1x16x16"}
    first, hit1 = reference_features(load_images, key, network, tmp_path, batch_size=10)
    second, hit2 = reference_features(load_images, key, network, tmp_path, batch_size=10)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    np.testing.assert_array_equal(first["stats"]["sigma"], second["stats"]["sigma"])
    other, hit3 = reference_features(load_images, {**key, "split": "train"}, network, tmp_path, batch_size=10)
    assert not hit3 and len(calls) == 2


def test_too_few_samples_fail_or_warn(tmp_path):
    network = resolve_feature_network("auto", str(save_tiny_torchscript(tmp_path)), input_size=32)
    ref_images = images(40, seed=3)
    key = {"dataset": "noise", "split": "test", "size": 40, "shape": "1x16x16"}
    ref, _ = reference_features(lambda: ref_images, key, network, tmp_path, batch_size=40)
    with pytest.raises(UserError, match="kid_subset_size=1000"):
        fidelity_metrics(images(40, seed=4), ref, ["kid"], network)
    with pytest.raises(UserError, match="isc needs a classifier head"):
        fidelity_metrics(images(40, seed=4), ref, ["isc"], network)
    few = fidelity_metrics(images(5, seed=4), ref, ["fid"], network)  # 5 samples, 8-d features
    assert "5 < 8 samples" in few["fid"]["warnings"][0]


def test_offline_without_weights_says_what_to_do(tmp_path, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(inception, "load_state_dict_from_url", offline)
    network = resolve_feature_network("auto", None)
    assert network.kind == "inception-v3-compat"
    with pytest.raises(UserError, match="feature_extractor_weights_path"):
        extract_features(images(2, seed=0), network)
