"""StyleGAN's figures: the style-mixing grid and the noise-resampling grid (sample.py mode=style_mixing |
noise_resampling), from a tiny StyleGAN checkpoint of the stylegan_cifar10 recipe."""

import json
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from gan_lab.build import build_generator
from gan_lab.errors import UserError
from gan_lab.sampling import run_sample
from gan_lab.sampling.stylegan_grids import (
    MixGroup,
    default_mix_groups,
    mix_groups,
    noise_batch,
    noise_resampling_grid,
    style_mixing_grid,
    with_std_column,
)
from gan_lab.training.checkpoint import save_checkpoint
from tests.conftest import REPO, compose
from tests.recipes_tiny import DCGAN, tiny_recipe

CPU = torch.device("cpu")


def tiny_stylegan(seed: int = 0) -> torch.nn.Module:
    """The stylegan_cifar10 recipe's generator at tiny width, 32x32 (8 style layers), with the noise
    weights (zero at init) set so that the noise shows."""
    torch.manual_seed(seed)
    G = build_generator(compose(tiny_recipe("stylegan_cifar10")))
    with torch.no_grad():
        for layer in G.layers:
            layer.noise.weight.fill_(0.5)
    return G.eval()


def generator_config(overrides: list[str]) -> dict:
    return {"model": {"generator": OmegaConf.to_container(compose(overrides).model.generator, resolve=True)}}


def stylegan_checkpoint(tmp_path, with_ema: bool = True):
    G, ema = tiny_stylegan(0), tiny_stylegan(1)  # different weights, so the picture says which was used
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = {"generator": G.state_dict(), "ema": ema.state_dict() if with_ema else None, "step": 3,
             "config": generator_config(tiny_recipe("stylegan_cifar10"))}
    save_checkpoint(state, path)
    return path


def dcgan_checkpoint(tmp_path):
    cfg = generator_config(["experiment=dcgan_mnist", *DCGAN])
    G = build_generator(OmegaConf.create(cfg))
    path = tmp_path / "dcgan" / "checkpoints" / "last.ckpt"
    save_checkpoint({"generator": G.state_dict(), "ema": None, "config": cfg, "step": 1}, path)
    return path


def sample_cfg(**overrides):
    return compose([f"{key}={value}" for key, value in overrides.items()], config_name="sample")


def mixing(G, groups, sources_a=3, sources_b=2, **kwargs):
    options = dict(seed=0, noise_seed=0, noise_strength=1.0, device=CPU) | kwargs
    return style_mixing_grid(G, sources_a, sources_b, groups, **options)


# -- style mixing ------------------------------------------------------------------------------------------
def test_default_groups_are_coarse_middle_fine_by_resolution():
    G = tiny_stylegan()
    assert G.layer_resolutions == [4, 4, 8, 8, 16, 16, 32, 32]
    assert default_mix_groups(G.layer_resolutions) == [
        MixGroup("coarse", 0, 4), MixGroup("middle", 4, 6), MixGroup("fine", 6, 8)]
    assert default_mix_groups([4, 4, 8, 8]) == [MixGroup("coarse", 0, 2), MixGroup("middle", 2, 4)]
    assert mix_groups(G.layer_resolutions, [[0, 2], [5, 5]]) == [MixGroup("layers 0-1", 0, 2), MixGroup("none", 5, 5)]
    for bad in ([[0, 9]], [[4, 2]], [[1]], []):
        with pytest.raises(UserError, match=r"mix_layers"):
            mix_groups(G.layer_resolutions, bad)


def test_style_mixing_grid_layout_and_cells_that_mix_both_sources():
    G = tiny_stylegan()
    groups = default_mix_groups(G.layer_resolutions)
    grid = mixing(G, groups, sources_a=3, sources_b=2)
    assert grid.shape == (1 + 3 * 2, 1 + 3, 3, 32, 32)
    assert torch.equal(grid[0, 0], torch.full_like(grid[0, 0], -1.0))  # the blank corner
    a_sources, b_sources = grid[0, 1:], grid[1:3, 0]
    assert not torch.equal(a_sources[0], a_sources[1]) and not torch.equal(b_sources[0], b_sources[1])
    for g in range(len(groups)):
        assert torch.equal(grid[1 + 2 * g : 3 + 2 * g, 0], b_sources)  # every group has the same B sources
        for b in range(2):
            for a in range(3):
                cell = grid[1 + 2 * g + b, 1 + a]
                # a real mix: clearly unlike either source, not a rounding difference
                assert (cell - a_sources[a]).abs().max() > 1e-2, (g, b, a)
                assert (cell - b_sources[b]).abs().max() > 1e-2, (g, b, a)
    coarse, fine = grid[1, 1], grid[5, 1]  # the same (A, B) pair, other layers from B
    assert (coarse - fine).abs().max() > 1e-2


def test_a_crossover_taking_no_layer_from_b_gives_a_exactly_and_all_layers_give_b():
    G = tiny_stylegan()
    grid = mixing(G, [MixGroup("none", 3, 3), MixGroup("all", 0, 8)], sources_a=3, sources_b=2)
    for b in range(2):
        assert torch.equal(grid[1 + b, 1:], grid[0, 1:])  # no layer from B: the A row, bit for bit
        assert all(torch.equal(grid[3 + b, 1 + a], grid[3 + b, 0]) for a in range(3))  # every layer: B itself


def test_style_mixing_is_a_function_of_the_seeds():
    G = tiny_stylegan()
    groups = default_mix_groups(G.layer_resolutions)
    first = mixing(G, groups)
    torch.rand(10)  # whatever the global RNG did in between
    assert torch.equal(first, mixing(G, groups))
    assert not torch.equal(first, mixing(G, groups, seed=1))  # other z
    other_noise = mixing(G, groups, noise_seed=1)
    assert not torch.equal(first, other_noise)


# -- noise resampling --------------------------------------------------------------------------------------
def noise_grid(G, **kwargs):
    options = dict(rows=2, resamples=3, std_samples=8, seed=0, noise_seed=0, noise_strength=1.0, device=CPU) | kwargs
    return noise_resampling_grid(G, **options)


def test_noise_resampling_changes_pixels_with_the_noise_seed_only():
    G = tiny_stylegan()
    images, std = noise_grid(G)
    assert images.shape == (2, 3, 3, 32, 32) and std.shape == (2, 32, 32)
    for row in images:
        assert (row[0] - row[1]).abs().max() > 1e-2 and (row[1] - row[2]).abs().max() > 1e-2
    assert (std > 0).float().mean() > 0.5
    shown, std_of_shown = noise_grid(G, resamples=8, std_samples=8)
    assert torch.allclose(std_of_shown, shown.std(dim=1, unbiased=False).mean(dim=1))  # over draws, then channels
    again_images, again_std = noise_grid(G)
    assert torch.equal(images, again_images) and torch.equal(std, again_std)  # same noise seed: same pixels
    other, _ = noise_grid(G, noise_seed=1)
    assert not torch.equal(images, other)
    more, _ = noise_grid(G, resamples=2, std_samples=2)
    # noise realization k depends on (noise_seed, k) only: the maps are bit-equal whatever the grid's size; the
    # pixels agree to float rounding only, because the CPU's conv kernels may accumulate in another order at
    # another batch size (a Xeon with AMX does: 5.4e-6)
    few, many = noise_batch(G, 0, 2, 1.0, CPU), noise_batch(G, 0, 8, 1.0, CPU)
    assert all(torch.equal(a, b[:2]) for a, b in zip(few, many, strict=True))
    assert torch.allclose(more[:, :2], images[:, :2], rtol=0, atol=1e-4)


def test_zero_noise_strength_gives_identical_resamples_and_a_zero_std():
    G = tiny_stylegan()
    images, std = noise_grid(G, noise_strength=0.0)
    for row in images:
        assert torch.equal(row[0], row[1]) and torch.equal(row[0], row[2])
    assert torch.equal(std, torch.zeros_like(std))
    cells, scale = with_std_column(images, std)
    assert cells.shape == (2, 4, 3, 32, 32) and scale == 0.0
    assert torch.equal(cells[:, -1], torch.full_like(cells[:, -1], -1.0))  # black std maps


def test_the_std_column_shares_one_scale_with_white_at_the_largest_std():
    images = torch.zeros(2, 3, 1, 2, 2)
    std = torch.tensor([[[0.0, 0.1], [0.2, 0.4]], [[0.0, 0.0], [0.0, 0.2]]])
    cells, scale = with_std_column(images, std)
    assert scale == pytest.approx(0.4)
    assert torch.allclose(cells[0, -1, 0], torch.tensor([[-1.0, -0.5], [0.0, 1.0]]))
    assert torch.allclose(cells[1, -1, 0], torch.tensor([[-1.0, -1.0], [-1.0, 0.0]]))


# -- sample.py's modes -------------------------------------------------------------------------------------
def test_the_modes_write_a_grid_and_a_sidecar_naming_the_weights(tmp_path):
    ckpt = stylegan_checkpoint(tmp_path)
    samples = tmp_path / "run" / "samples"
    image, sidecar = run_sample(sample_cfg(ckpt=str(ckpt), mode="style_mixing", sources_a=4, sources_b=2))
    assert image == samples / "style_mixing_ema_seed0.png" and sidecar == image.with_suffix(".json")
    assert Image.open(image).size == (5 * 34 + 2, 7 * 34 + 2)  # 1 + 4 columns, 1 + 3 groups x 2 rows
    record = json.loads(sidecar.read_text())
    assert record["weights"] == "ema" and record["step"] == 3 and record["noise_seed"] == 0
    assert [g["layers_from_b"] for g in record["groups"]] == [[0, 4], [4, 6], [6, 8]]
    assert record["groups"][1]["rows"] == [3, 4] and record["groups"][2]["resolutions_from_b"] == [32]
    first = image.read_bytes()
    run_sample(sample_cfg(ckpt=str(ckpt), mode="style_mixing", sources_a=4, sources_b=2))
    assert image.read_bytes() == first  # reproducible

    [trained, trained_json] = run_sample(sample_cfg(ckpt=str(ckpt), mode="style_mixing", sources_a=4, sources_b=2,
                                                    ema="false"))
    assert trained.name == "style_mixing_generator_seed0.png"
    assert json.loads(trained_json.read_text())["weights"] == "generator"
    assert trained.read_bytes() != first  # the EMA weights really were the ones drawn with

    image, sidecar = run_sample(sample_cfg(ckpt=str(ckpt), mode="noise_resampling", rows=2, resamples=3,
                                           std_samples=4, noise_seed=5))
    assert image == samples / "noise_resampling_ema_seed0.png"
    assert Image.open(image).size == (4 * 34 + 2, 2 * 34 + 2)  # 3 resamples + the std map
    record = json.loads(sidecar.read_text())
    assert record["noise_seed"] == 5 and record["std_samples"] == 4 and record["std_scale"] > 0
    assert len(record["mean_std_per_row"]) == 2


def test_a_checkpoint_without_ema_says_it_used_the_generator(tmp_path):
    ckpt = stylegan_checkpoint(tmp_path, with_ema=False)
    image, sidecar = run_sample(sample_cfg(ckpt=str(ckpt), mode="noise_resampling", rows=1, std_samples=2))
    assert image.name == "noise_resampling_generator_seed0.png"
    record = json.loads(sidecar.read_text())
    assert record["weights"] == "generator" and record["ema_requested"] is True


def test_a_non_stylegan_checkpoint_or_bad_layers_fail_in_one_line_writing_nothing(tmp_path):
    ckpt = dcgan_checkpoint(tmp_path)
    for mode in ("style_mixing", "noise_resampling"):
        with pytest.raises(UserError, match=f"mode={mode} needs a StyleGAN generator.*DCGANGenerator"):
            run_sample(sample_cfg(ckpt=str(ckpt), mode=mode))
    assert not (tmp_path / "dcgan" / "samples").exists()
    stylegan = stylegan_checkpoint(tmp_path)
    with pytest.raises(UserError, match=r"0 <= start <= stop <= 8"):
        run_sample(sample_cfg(ckpt=str(stylegan), mode="style_mixing", mix_layers="[[0,9]]"))
    assert not (tmp_path / "run" / "samples").exists()


def test_sample_py_draws_both_figures_and_refuses_a_dcgan_with_exit_code_2(tmp_path):
    ckpt = stylegan_checkpoint(tmp_path)
    result = subprocess.run(
        [sys.executable, str(REPO / "sample.py"), "--multirun", f"ckpt={ckpt}", "mode=style_mixing,noise_resampling",
         "mix_layers=[[0,2],[2,8]]", "sources_a=2", "sources_b=1", "rows=1", "std_samples=2",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    samples = tmp_path / "run" / "samples"
    names = ["style_mixing_ema_seed0.png", "style_mixing_ema_seed0.json", "noise_resampling_ema_seed0.png",
             "noise_resampling_ema_seed0.json"]
    assert result.stdout.split() == [str(samples / name) for name in names]
    assert Image.open(samples / names[0]).size == (3 * 34 + 2, 3 * 34 + 2)  # 1 + 2 columns, 1 + 2 groups x 1
    assert [g["layers_from_b"] for g in json.loads((samples / names[1]).read_text())["groups"]] == [[0, 2], [2, 8]]

    dcgan = dcgan_checkpoint(tmp_path)
    result = subprocess.run([sys.executable, str(REPO / "sample.py"), f"ckpt={dcgan}", "mode=style_mixing"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: mode=style_mixing needs a StyleGAN generator (mapping, per-layer synthesis); this checkpoint's "
        "generator is DCGANGenerator: use mode=grid or mode=interpolate"]
