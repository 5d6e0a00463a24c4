"""MLP GAN and class-conditional models: shapes, a training step, labels matter, recipes run."""

import pytest
import torch

from gan_lab.errors import UserError
from gan_lab.jobs.train import train
from gan_lab.losses import BCELoss
from gan_lab.models.conditional import (
    ConditionalDCGANDiscriminator,
    ConditionalDCGANGenerator,
    ConditionalMLPDiscriminator,
    ConditionalMLPGenerator,
)
from gan_lab.models.mlp import MLPDiscriminator, MLPGenerator
from tests.conftest import compose, needs_mnist

LABELS = torch.tensor([0, 1, 2, 3])


def models(kind, conditioning="concat"):
    if kind == "mlp":
        return MLPGenerator(8, 1, 28, hidden=(16, 32)), MLPDiscriminator(1, 28, hidden=(32, 16))
    if kind == "cgan_mlp":
        return (
            ConditionalMLPGenerator(8, 1, 28, 10, embed_dim=4, hidden=(16, 32)),
            ConditionalMLPDiscriminator(1, 28, 10, embed_dim=4, hidden=(32, 16), conditioning=conditioning),
        )
    return (
        ConditionalDCGANGenerator(8, 3, 32, 10, embed_dim=4, base_width=4),
        ConditionalDCGANDiscriminator(3, 32, 10, base_width=4, conditioning=conditioning),
    )


CASES = [("mlp", "concat"), ("cgan_mlp", "concat"), ("cgan_mlp", "projection"), ("cgan_dcgan", "concat"),
         ("cgan_dcgan", "projection")]


@pytest.mark.parametrize("kind, conditioning", CASES)
def test_shapes(kind, conditioning):
    G, D = models(kind, conditioning)
    cond = LABELS if kind != "mlp" else None
    x = G(torch.randn(4, 8), cond)
    assert x.shape == (4, G.channels, G.image_size, G.image_size)
    assert D(x, cond).shape == (4,)


@pytest.mark.parametrize("kind, conditioning", CASES)
def test_one_step_changes_both_networks(kind, conditioning):
    torch.manual_seed(0)
    G, D = models(kind, conditioning)
    cond = LABELS if kind != "mlp" else None
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    g0 = [p.clone() for p in G.parameters()]
    d0 = [p.clone() for p in D.parameters()]
    loss = BCELoss()
    real = torch.rand(4, G.channels, G.image_size, G.image_size) * 2 - 1
    fake = G(torch.randn(4, 8), cond)
    d_loss, _ = loss.discriminator_loss(D, real, fake.detach(), cond)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss, _ = loss.generator_loss(D, fake, cond, real)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert all(not torch.equal(a, b) for a, b in zip(g0, G.parameters(), strict=True))
    assert sum(not torch.equal(a, b) for a, b in zip(d0, D.parameters(), strict=True)) > 0


@pytest.mark.parametrize("kind, conditioning", CASES[1:])
def test_changing_only_the_label_changes_the_output(kind, conditioning):
    G, D = models(kind, conditioning)
    G.eval()
    D.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    images = G(z, torch.tensor([3, 7]))
    assert not torch.allclose(images[0], images[1])
    x = images[:1].detach().repeat(2, 1, 1, 1)
    scores = D(x, torch.tensor([3, 7]))
    assert scores[0] != scores[1]


def test_embedding_hook_matches_forward():
    G, _ = models("cgan_dcgan")
    G.eval()
    z = torch.randn(4, 8)
    assert torch.equal(G(z, LABELS), G.forward_embedded(z, G.embed_labels(LABELS)))


def test_conditional_models_need_labels():
    G, D = models("cgan_mlp")
    with pytest.raises(UserError, match="needs labels"):
        G(torch.randn(2, 8), None)
    with pytest.raises(UserError, match="unknown conditioning"):
        ConditionalDCGANDiscriminator(conditioning="film")


def test_conditional_model_on_unlabelled_data_is_caught_at_start(tmp_path):
    cfg = compose(["experiment=cgan_mnist", "dataset=synthetic", "dataset.num_classes=0", "dataset.image_size=28",
                   "trainer.max_steps=1", "trainer.progress_bar=false", "trainer.max_epochs=null"])
    with pytest.raises(UserError, match="class-conditional"):
        train(cfg, tmp_path)


TINY_MLP = ["model.generator.hidden=[16,32]", "model.discriminator.hidden=[32,16]", "model.generator.latent_dim=8"]
COMMON = ["dataset.limit=256", "trainer.max_epochs=null", "trainer.max_steps=2", "trainer.batch_size=16",
          "trainer.progress_bar=false", "trainer.sample_every=2", "trainer.log_every=1", "trainer.num_samples=20"]


@needs_mnist
@pytest.mark.parametrize(
    "experiment, tiny",
    [
        ("gan_mnist", TINY_MLP),
        ("cgan_mnist", [*TINY_MLP, "model.generator.embed_dim=4", "model.discriminator.embed_dim=4"]),
        ("cgan_fashion_mnist", ["model.generator.base_width=4", "model.discriminator.base_width=4",
                                "model.generator.latent_dim=8", "model.generator.embed_dim=4"]),
    ],
)
def test_recipe_runs_two_steps(experiment, tiny, tmp_path):
    record = train(compose([f"experiment={experiment}", *COMMON, *tiny]), tmp_path)
    assert record["step"] == 2
    assert (tmp_path / "samples" / "step_0000002.png").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
