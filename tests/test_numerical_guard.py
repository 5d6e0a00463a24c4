"""Non-finite losses and gradients: stop naming the step (keeping the last good checkpoint), or skip and count."""

import pytest
import torch
from torch import nn

from gan_lab.jobs.train import train
from gan_lab.training.checkpoint import load_checkpoint
from gan_lab.training.trainer import NonFiniteError
from tests.conftest import TINY, compose, local_trainer

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=8"]


def nan_at(steps: list[int], gradient: bool = False) -> list[str]:
    return [
        "loss._target_=tests.fakes.NonFiniteLoss",
        f"+loss.bad_steps={steps}",
        f"+loss.gradient={str(gradient).lower()}",
    ]


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteError) as err:
        train(compose([*SYNTHETIC, *nan_at([5])]), tmp_path)
    message = str(err.value)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert message.startswith("non-finite generator loss nan at step 5;")
    assert f"the last good checkpoint is {last}" in message and "\n" not in message
    assert load_checkpoint(last)["step"] == 4  # checkpoint_every=2: written after step 4, nothing after
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt", "step_0000002.ckpt", "step_0000004.ckpt"]
    good = load_checkpoint(last)["generator"]
    assert all(torch.isfinite(v).all() for v in good.values() if v.is_floating_point())


def test_nan_gradient_with_finite_loss_is_caught_too(tmp_path):
    with pytest.raises(NonFiniteError, match=r"^non-finite gradient of the generator loss at step 1; no checkpoint"):
        train(compose([*SYNTHETIC, *nan_at([1], gradient=True)]), tmp_path)


def test_loss_only_check_never_writes_weights_a_nan_gradient_reached(tmp_path):
    # Step 4's NaN gradient passes the per-step loss check and poisons G; the checkpoint due after
    # step 4 is refused, and the one from step 2 stays the last good one.
    overrides = [*SYNTHETIC, "trainer.nonfinite_check=loss", *nan_at([4], gradient=True)]
    with pytest.raises(NonFiniteError, match=r"^non-finite weights at step 4 \(trainer.nonfinite_check=loss"):
        train(compose(overrides), tmp_path)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert load_checkpoint(last)["step"] == 2
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt", "step_0000002.ckpt"]


def test_loss_only_check_stops_at_the_next_loss_after_a_nan_gradient(tmp_path):
    overrides = [*SYNTHETIC, "trainer.nonfinite_check=loss", *nan_at([1], gradient=True)]
    with pytest.raises(NonFiniteError, match=r"^non-finite discriminator loss nan at step 2; no checkpoint"):
        train(compose(overrides), tmp_path)


def test_skip_policy_skips_counts_and_continues(tmp_path):
    record = train(compose([*SYNTHETIC, *nan_at([3, 6]), "trainer.nonfinite=skip"]), tmp_path)
    assert record["step"] == 8
    state = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert state["nonfinite_total"] == 2 and state["nonfinite_in_a_row"] == 0
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


def test_skipped_step_leaves_the_generator_unchanged(tmp_path):
    overrides = [*SYNTHETIC, "trainer.checkpoint_every=1", "trainer.keep_last=10", "trainer.max_steps=3"]
    train(compose([*overrides, *nan_at([3]), "trainer.nonfinite=skip"]), tmp_path)
    ckpts = tmp_path / "checkpoints"
    before = load_checkpoint(ckpts / "step_0000002.ckpt")["generator"]
    after = load_checkpoint(ckpts / "step_0000003.ckpt")["generator"]
    weights = [k for k in before if k.endswith("weight")]
    assert all(torch.equal(before[k], after[k]) for k in weights)


def test_skip_policy_stops_after_n_non_finite_steps_in_a_row(tmp_path):
    overrides = [*SYNTHETIC, *nan_at([3, 4, 5, 6, 7, 8]), "trainer.nonfinite=skip", "trainer.max_nonfinite_skips=3"]
    with pytest.raises(NonFiniteError, match=r"^3 non-finite steps in a row, the last at step 5 "):
        train(compose(overrides), tmp_path)
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["step"] == 4


def test_grad_clip_bounds_the_update(tmp_path):
    trainer = local_trainer(compose([*SYNTHETIC, "trainer.grad_clip=0.5"]), tmp_path)
    net = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        net.weight.zero_()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    loss = (net(torch.full((1, 4), 100.0)) - 1e6).pow(2).sum()  # gradient norm ~ 4e8
    assert trainer._update("test loss", loss, net, opt, trainer.scaler_g)
    assert net.weight.norm().item() == pytest.approx(0.5, rel=1e-5)  # SGD lr=1: the step is the clipped gradient
