"""Lazy R1 (loss.r1_every=k): the penalty on D updates 0, k, 2k, ... only, scaled by k, through the loss
interface (loss.discriminator_penalty), so the trainer never asks which loss it runs."""

import copy

import pytest
import torch

import gan_lab.losses
from gan_lab.errors import UserError
from gan_lab.losses import R1BCELoss
from tests.conftest import TINY, compose, local_trainer

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY, "loss=r1_bce"]


class Square(torch.nn.Module):
    def forward(self, x, cond=None):
        return 0.5 * x.flatten(1).pow(2).sum(1)  # grad = x, so R1 = mean ||x||^2


def test_penalty_only_on_every_kth_d_step_and_scaled_by_k():
    real = torch.tensor([[3.0, 4.0], [1.0, 0.0]]).view(2, 2, 1, 1)  # R1 = (25 + 1) / 2 = 13
    lazy = R1BCELoss(r1_gamma=2.0, r1_every=4)
    applied = {}
    for d_step in range(10):
        penalty = lazy.discriminator_penalty(Square(), real, None, d_step)
        if penalty is not None:
            applied[d_step] = penalty[0].item()
            assert penalty[1]["r1"].item() == pytest.approx(13.0, rel=1e-5)
    assert applied == {0: pytest.approx(4 * 0.5 * 2.0 * 13.0, rel=1e-5), 4: applied[0], 8: applied[0]}
    loss, logs = lazy.discriminator_loss(Square(), real, torch.zeros_like(real), None)
    eager_loss, _ = R1BCELoss(r1_gamma=2.0).discriminator_loss(Square(), real, torch.zeros_like(real), None)
    assert "r1" not in logs and loss.item() == pytest.approx(eager_loss.item() - 13.0, rel=1e-5)
    assert R1BCELoss(r1_gamma=2.0).discriminator_penalty(Square(), real, None, 0) is None  # r1_every=1: in the loss


def test_r1_every_must_be_a_positive_integer():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(UserError, match="loss.r1_every"):
            R1BCELoss(r1_every=bad)


def test_trainer_applies_it_on_exactly_every_kth_d_update(tmp_path, monkeypatch):
    """Counted across critic updates: 4 steps x n_critic=2 are D updates 0..7; k=3 penalises 0, 3, 6."""
    calls = []
    real_norm = gan_lab.losses.input_gradient_norm
    monkeypatch.setattr(gan_lab.losses, "input_gradient_norm", lambda *a, **kw: calls.append(1) or real_norm(*a, **kw))
    trainer = local_trainer(compose([*SYNTHETIC, "loss.r1_every=3", "trainer.n_critic=2"]), tmp_path)
    penalised = []
    for _ in range(4):
        before = len(calls)
        logs = trainer.train_step()
        penalised.append(len(calls) - before)
        assert ("r1" in logs) == (penalised[-1] > 0)
    assert penalised == [1, 1, 0, 1]  # D updates (0, 1), (2, 3), (4, 5), (6, 7)


def test_lazy_step_equals_a_k_times_stronger_penalty_and_other_steps_equal_no_penalty(tmp_path):
    """Gradients, via the weights after each update: on D update 0 r1_every=2 (gamma 10) is r1_every=1 with
    gamma 20; on D update 1 it is a loss without R1 started from the same state."""

    def trainer(*overrides):
        torch.manual_seed(0)
        return local_trainer(compose([*SYNTHETIC, *overrides]), tmp_path / "_".join(overrides))

    def same_d(a, b) -> bool:
        return all(torch.equal(x, b.D.state_dict()[k]) for k, x in a.D.state_dict().items())

    lazy, strong, none = trainer("loss.r1_every=2"), trainer("loss.r1_gamma=20"), trainer("loss.r1_gamma=0")
    lazy.train_step()
    strong.train_step()
    assert same_d(lazy, strong)  # D update 0: penalised, 2 x gamma 10 = gamma 20
    for other in (none, strong):  # a copy: the optimisers would otherwise share lazy's moment tensors
        other.load_state_dict(copy.deepcopy(lazy.state_dict()))
    for t in (lazy, none, strong):
        t.train_step()
    assert same_d(lazy, none)  # D update 1: no penalty
    assert not same_d(lazy, strong)
