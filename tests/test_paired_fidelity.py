"""FID / KID of pix2pix translations on train and val (evaluate_paired.py), with a tiny TorchScript feature network
standing in for the Inception (tests/evaluation_helpers.py), and the translation grids."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.data.paired import PairedImages
from gan_lab.errors import UserError
from gan_lab.evaluation import paired
from gan_lab.evaluation.fidelity import extract_features, resolve_feature_network
from gan_lab.evaluation.frechet import gaussian_statistics
from gan_lab.evaluation.paired_fidelity import kid_subset_size
from tests.conftest import REPO, compose
from tests.evaluation_helpers import save_tiny_torchscript
from tests.test_pix2pix import HALF, tiny_pix2pix

SPLITS = (("train", 12), ("val", 10))


def smooth_half(seed: int) -> np.ndarray:
    """A smooth colour field (4x4 random colours upsampled): image-like, unlike uniform noise."""
    coarse = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((HALF, HALF), Image.BICUBIC))


def make_identical_pairs(root):
    """Side-by-side pairs whose source equals its target, so the identity is a perfect translation."""
    for split, n in SPLITS:
        (root / split).mkdir(parents=True)
        for i in range(1, n + 1):
            half = smooth_half(100 * len(split) + i)
            Image.fromarray(np.concatenate([half, half], axis=1)).save(root / split / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from gan_lab.jobs.train import train

    tmp = tmp_path_factory.mktemp("pix2pix")
    root = make_identical_pairs(tmp / "facades")
    train(compose(tiny_pix2pix(root, tmp / "cache")), tmp / "run")
    return tmp / "run" / "checkpoints" / "last.ckpt", save_tiny_torchscript(tmp), root


def fidelity_overrides(weights, cache) -> list[str]:
    return [
        f"fidelity.feature_extractor_weights_path={weights}", "fidelity.input_size=32", "fidelity.backend=torch",
        "fidelity.kid_subsets=10", f"cache_dir={cache}",
    ]


def test_fid_and_kid_appear_for_both_splits_with_how_they_were_measured(tiny_checkpoint, tmp_path):
    from gan_lab.jobs.evaluate_paired import evaluate_paired_job

    ckpt, weights, _ = tiny_checkpoint
    out = tmp_path / "eval" / "paired.json"
    args = [f"ckpt={ckpt}", "split=[train,val]", f"out={out}", "grid_rows=3", *fidelity_overrides(weights, tmp_path)]
    evaluate_paired_job(compose(args, "evaluate_paired"))
    result = json.loads(out.read_text())
    used_ema = result["protocol"]["used_ema"]
    for split, n in SPLITS:
        for name in ("fid", "kid"):
            m = result["metrics"][split][name]
            assert math.isfinite(m["value"]), (split, name)
            assert (m["split"], m["num_translated"], m["num_reference"]) == (split, n, n)
            assert m["image_size"] == 32 and m["feature_network"] == "torchscript" and m["ema"] is used_ema
            assert m["reference_cache_hit"] is False
        kid = result["metrics"][split]["kid"]
        assert kid["subset_size"] == n and kid["subsets"] == 10 and kid["std"] < 1e-6  # auto: the whole split
        assert kid["subset_size_rule"].startswith("auto: the whole split, at most 1000")
        # the grid: rows of source | translated | target, 32 px + 2 px padding
        assert Image.open(result["grids"][split]).size == (3 * 34 + 2, 3 * 34 + 2)
    protocol = result["protocol"]["fidelity"]
    assert protocol["kid_subset_size"].startswith("auto") and protocol["feature_network"]["weights_sha256"]
    assert result["protocol"]["pairs_per_split"] == dict(SPLITS)

    evaluate_paired_job(compose(args, "evaluate_paired"))  # the same request again: the references are cached
    again = json.loads(out.read_text())
    assert all(again["metrics"][s][k]["reference_cache_hit"] for s, _ in SPLITS for k in ("fid", "kid"))
    assert again["metrics"]["val"]["fid"]["value"] == result["metrics"]["val"]["fid"]["value"]

    before = out.read_bytes()  # another request must not replace the result
    with pytest.raises(UserError, match=r"already holds another request \(differs in fidelity, metrics\)"):
        evaluate_paired_job(compose([*args, "metrics=[]"], "evaluate_paired"))
    assert out.read_bytes() == before


class Identity(torch.nn.Module):
    def forward(self, z, cond):
        return cond


class Noise(torch.nn.Module):
    def forward(self, z, cond):
        return torch.rand_like(cond) * 2 - 1


def test_fid_and_kid_respond_to_the_translations(tiny_checkpoint, tmp_path, monkeypatch):
    """The sources equal the targets: the identity translation reaches FID ~ 0, uniform noise does not."""
    ckpt, weights, root = tiny_checkpoint
    real_loader = paired.load_generator
    fidelity = {"feature_extractor_weights_path": str(weights), "input_size": 32, "backend": "torch",
                "kid_subsets": 100}
    network = resolve_feature_network("torchscript", str(weights), input_size=32, backend="torch")
    data = PairedImages(str(root), image_size=32, direction="BtoA")
    targets = {split: data.eval_pairs(split)[1] for split, _ in SPLITS}
    results = {}
    for name, generator in (("identity", Identity()), ("noise", Noise())):
        monkeypatch.setattr(paired, "load_generator", lambda *a, g=generator, **k: (g, *real_loader(*a, **k)[1:]))
        results[name] = paired.evaluate_paired(ckpt, metrics=("fid", "kid"), fidelity=fidelity, cache_dir=tmp_path)
    for split, _ in SPLITS:
        same, noise = results["identity"]["metrics"][split], results["noise"]["metrics"][split]
        # the scale of FID here: the total variance of the targets' features
        spread = float(np.trace(gaussian_statistics(extract_features(targets[split], network)["pool"])["sigma"]))
        assert same["l1"] == 0 and abs(same["fid"]["value"]) < 1e-6 * spread
        assert noise["fid"]["value"] > 0.5 * spread
        # KID of the whole split against itself is slightly negative (the unbiased estimate), noise's positive
        assert same["kid"]["value"] < 0 < noise["kid"]["value"]


def test_kid_subset_size_fits_the_split():
    assert kid_subset_size(None, 400)[0] == 400 and kid_subset_size(None, 100)[0] == 100  # facades train, val
    assert kid_subset_size(None, 10000)[0] == 1000  # large sets keep torch-fidelity's 1000
    assert kid_subset_size(80, 100) == (80, "fidelity.kid_subset_size")
    with pytest.raises(UserError, match="KID subsets of 200 images need 2 <= size <= 100"):
        kid_subset_size(200, 100)
    with pytest.raises(UserError, match="KID subsets of 1 images"):
        kid_subset_size(None, 1)


def test_missing_feature_weights_stop_before_any_work_in_one_line(tiny_checkpoint, tmp_path):
    ckpt, _, _ = tiny_checkpoint
    out = tmp_path / "paired.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "evaluate_paired.py"), f"ckpt={ckpt}", f"out={out}",
         f"fidelity.feature_extractor_weights_path={tmp_path / 'missing.pt'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "missing.pt: no such file; or pass metrics=[] for L1 / PSNR / SSIM only" in result.stderr
    assert not out.exists() and not list(tmp_path.glob("*grid.png"))


def test_offline_without_weights_names_the_fix(tiny_checkpoint, tmp_path, monkeypatch):
    import urllib.error

    import torch_fidelity.feature_extractor_inceptionv3 as inception

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(inception, "load_state_dict_from_url", offline)
    monkeypatch.setattr(paired, "translate_batches", lambda *a, **k: pytest.fail("translated before the check"))
    ckpt, _, _ = tiny_checkpoint
    fidelity = {"feature_extractor": "inception-v3-compat", "feature_extractor_weights_path": None}
    with pytest.raises(UserError, match=r"feature_extractor_weights_path=.*; or pass metrics=\[\]") as err:
        paired.evaluate_paired(ckpt, metrics=("fid",), fidelity=fidelity, cache_dir=tmp_path)
    assert "\n" not in str(err.value)
