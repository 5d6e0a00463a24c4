"""sample.py / evaluate.py with one seed give identical uint8 images, for every recipe: z, and every draw
inside the model (StyleGAN's noise, pix2pix's dropout in train-mode sampling), follow the call's seed."""

import pytest
import torch

from gan_lab.build import build_generator
from gan_lab.data.base import to_uint8
from gan_lab.evaluation.common import generate_samples
from gan_lab.evaluation.paired import translate_batches
from gan_lab.sampling import interpolate_latents, sample_grid
from tests.conftest import compose
from tests.recipes_tiny import RECIPES, tiny_recipe


def tiny_generator(recipe: str) -> torch.nn.Module:
    torch.manual_seed(0)
    G = build_generator(compose(tiny_recipe(recipe)))
    with torch.no_grad():  # StyleGAN's noise weights start at 0, where the noise would not show
        for name, p in G.named_parameters():
            if name.endswith("noise.weight"):
                p.fill_(0.5)
    return G.eval()


def unseeded_draws_change_the_output(G, x) -> bool:
    """Whether the model itself draws from torch's RNG (so the seeding below is really tested)."""
    with torch.no_grad():
        return not torch.equal(to_uint8(G(*x)), to_uint8(G(*x)))


@pytest.mark.parametrize("recipe", RECIPES)
def test_sampling_twice_with_one_seed_gives_identical_uint8_images(recipe):
    G = tiny_generator(recipe)
    if G.latent_dim == 0:  # pix2pix: evaluate.py / sample.py translate in train mode (dropout on)
        sources = torch.randint(0, 256, (4, 3, 64, 64), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
        first = translate_batches(G, sources, "train", 2, seed=7, device="cpu")
        torch.rand(100)  # whatever the global stream did in between
        second = translate_batches(G, sources, "train", 2, seed=7, device="cpu")
        other = translate_batches(G, sources, "train", 2, seed=8, device="cpu")
        assert torch.equal(first, second)
        assert not torch.equal(first, other), "dropout draws should depend on the seed"
        return
    first = to_uint8(sample_grid(G, 6, seed=7, device="cpu"))  # sample.py mode=grid
    torch.rand(100)
    second = to_uint8(sample_grid(G, 6, seed=7, device="cpu"))
    assert torch.equal(first, second)
    evaluated, _ = generate_samples(G, 6, seed=7, batch_size=4)  # evaluate.py
    torch.rand(100)
    again, _ = generate_samples(G, 6, seed=7, batch_size=4)
    assert evaluated.dtype == torch.uint8 and torch.equal(evaluated, again)
    other, _ = generate_samples(G, 6, seed=8, batch_size=4)
    assert not torch.equal(evaluated, other)


def test_the_stochastic_recipes_really_draw_inside_the_model():
    """Without this the test above could pass for StyleGAN and pix2pix because they drew nothing."""
    stylegan = tiny_generator("stylegan_cifar10")
    assert unseeded_draws_change_the_output(stylegan, (torch.randn(2, stylegan.latent_dim), None))
    pix2pix = tiny_generator("pix2pix_facades").train()
    assert unseeded_draws_change_the_output(pix2pix, (None, torch.rand(2, 3, 64, 64) * 2 - 1))


def test_a_stylegan_interpolation_keeps_its_noise_along_the_path():
    """Each frame runs with the same in-model draws: the first frame is exactly the grid image of z1 alone."""
    G = tiny_generator("stylegan_cifar10")
    strips = interpolate_latents(G, pairs=1, steps=3, method="lerp", seed=5, device="cpu")
    again = interpolate_latents(G, pairs=1, steps=3, method="lerp", seed=5, device="cpu")
    assert torch.equal(strips, again)
    from gan_lab.sampling import latents
    from gan_lab.utils.rng import seeded_model_rng

    z1 = latents(2, G.latent_dim, 5, "cpu")[:1]
    with seeded_model_rng(5), torch.no_grad():
        alone = G(z1, None)
    assert torch.equal(to_uint8(strips[0, 0]), to_uint8(alone[0]))
