"""Options for fast recipes: spectral normalisation of any discriminator, EMA warm-up, one training step each."""

import pytest
import torch
from torch import nn

from gan_lab.build import build_discriminator
from gan_lab.errors import UserError
from gan_lab.training.ema import EMA
from gan_lab.training.run import train
from tests.conftest import TINY, compose

MODELS = {
    "dcgan": [],
    "mlp": ["dataset.image_size=28"],
    "cgan_dcgan": [],
    "cgan_mlp": ["dataset.image_size=28"],
    "cwgan": [],
    "stylegan": [],
    "pix2pix": ["dataset=facades", "dataset.image_size=32"],
    "sngan": ["dataset=cifar10"],
}
SN_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def largest_singular_value(layer: nn.Module) -> float:
    weight = layer.weight  # the normalised weight, recomputed by the parametrization
    if isinstance(layer, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return float(torch.linalg.matrix_norm(weight.detach().reshape(weight.shape[0], -1).double(), ord=2))


@pytest.mark.parametrize("model", MODELS)
def test_spectral_norm_reaches_every_layer_of_every_discriminator(model):
    torch.manual_seed(0)
    cfg = compose([f"model={model}", *MODELS[model], "model.discriminator.spectral_norm=true"])
    D = build_discriminator(cfg)
    layers = [m for m in D.modules() if isinstance(m, SN_LAYERS) or "Equal" in type(m).__name__]
    assert layers
    for layer in layers:
        assert nn.utils.parametrize.is_parametrized(layer, "weight"), type(layer).__name__
        for _ in range(100):  # each training-mode read of the weight runs one more power iteration
            _ = layer.weight
        # the weight D computes with has largest singular value 1 (the init's are ~0.1-0.9)
        assert largest_singular_value(layer) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("recipe", ["sngan_cifar10", "sngan_cifar10_cpu"])
def test_sngan_recipes_normalise_every_layer_of_a_discriminator_without_batchnorm(recipe):
    """The standard CNN of the paper: spectral norm on by the recipe alone, LeakyReLU 0.1, no normalisation layer."""
    cfg = compose([f"experiment={recipe}"])
    D = build_discriminator(cfg)
    weighted = [m for m in D.modules() if isinstance(m, SN_LAYERS)]
    assert len(weighted) == 8  # 7 convs and the linear head at 32x32
    assert all(nn.utils.parametrize.is_parametrized(m, "weight") for m in weighted)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in D.modules())
    assert {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert cfg.loss._target_.endswith("HingeLoss") and cfg.model.generator.latent_dim == 128


def test_spectral_norm_is_off_by_default_and_checked():
    D = build_discriminator(compose([]))
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in D.modules())
    with pytest.raises(UserError, match="spectral_norm must be true or false"):
        build_discriminator(compose(["model.discriminator.spectral_norm=1.5"]))


def test_spectral_norm_holds_after_training_steps(tmp_path):
    """Adam steps on the raw weight; the weight D uses stays at spectral norm ~1 (power iteration per forward)."""
    overrides = ["dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=6", "loss=hinge",
                 "model.discriminator.spectral_norm=true", "model.discriminator.norm=none",
                 "model.generator.upsample=nearest", "optimizer.lr=0.01"]
    train(compose(overrides), tmp_path / "run")
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert state["step"] == 6
    D = build_discriminator(compose(overrides))
    D.load_state_dict(state["discriminator"])
    D.eval()  # no further power iteration: the stored u, v give the normalised weight
    for layer in (m for m in D.modules() if isinstance(m, SN_LAYERS)):
        assert largest_singular_value(layer) == pytest.approx(1.0, abs=0.1)


def test_ema_warmup_schedule():
    net = nn.Linear(2, 2)
    assert EMA(net, 0.999).decay_at(0) == 0.999
    ema = EMA(net, 0.999, warmup=True)
    assert ema.decay_at(0) == pytest.approx(0.1)
    assert ema.decay_at(90) == pytest.approx(0.91)
    assert ema.decay_at(10**6) == 0.999


def test_ema_warmup_follows_the_weights_early():
    torch.manual_seed(0)
    net = nn.Linear(4, 4)
    ema = EMA(net, 0.999, warmup=True)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, step=0)  # decay 0.1: 90% of the way to the new weights, not 0.1%
    start = net.weight - 1.0
    assert torch.allclose(ema.model.weight, start + 0.9, atol=1e-6)


def test_ema_warmup_run_trains(tmp_path):
    overrides = ["dataset=synthetic", "dataset.size=64", *TINY, "trainer.ema_decay=0.999", "trainer.ema_warmup=true"]
    train(compose(overrides), tmp_path / "run")
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    g, e = state["generator"], state["ema"]
    # after 4 warm-up updates (decays 0.1, 0.18, 0.25, 0.31) the EMA sits near G, far from the init
    diffs = [float((g[k] - e[k]).abs().max()) for k in g if g[k].is_floating_point()]
    assert max(diffs) > 0 and state["step"] == 4


def test_ema_average_buffers_follow_the_weights_schedule():
    """buffers=average: BatchNorm running statistics are averaged with the weights' decay, not copied."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    copied, averaged = EMA(net, 0.9), EMA(net, 0.9, buffers="average")
    start = net[1].running_mean.clone()
    net.train()
    net(torch.randn(16, 3) + 5.0)  # moves running_mean and num_batches_tracked
    copied.update(net), averaged.update(net)
    assert torch.equal(copied.model[1].running_mean, net[1].running_mean)
    assert torch.allclose(averaged.model[1].running_mean, 0.9 * start + 0.1 * net[1].running_mean)
    assert int(averaged.model[1].num_batches_tracked) == 1  # integer counters are copied
    with pytest.raises(ValueError, match="copy or average"):
        EMA(net, 0.9, buffers="mean")
