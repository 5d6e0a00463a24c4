"""Optional learning-rate schedules: linear decay values, stepping once per step, exact resume."""

import pytest
import torch

from gan_lab.jobs.train import train
from gan_lab.training.checkpoint import load_checkpoint
from gan_lab.training.schedules import linear_decay, make_scheduler
from tests.conftest import TINY, compose

SYNTHETIC = ["dataset=synthetic", "dataset.size=32", *TINY]


def test_linear_decay_is_constant_then_falls_to_zero():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = linear_decay(opt, total_steps=8, decay_start=0.5)
    rates = []
    for _ in range(8):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    rates.append(opt.param_groups[0]["lr"])
    assert rates == pytest.approx([1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0])


def test_factories_get_the_run_length_only_when_they_ask_for_it():
    from functools import partial

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    assert make_scheduler(None, opt, 10) is None
    step_lr = make_scheduler(partial(torch.optim.lr_scheduler.StepLR, step_size=3), opt, 10)
    assert isinstance(step_lr, torch.optim.lr_scheduler.StepLR)
    assert make_scheduler(partial(linear_decay, decay_start=0.0), opt, 10).lr_lambdas[0](5) == pytest.approx(0.5)


def test_scheduled_run_resumes_exactly(tmp_path):
    overrides = [*SYNTHETIC, "scheduler=linear_decay", "trainer.max_steps=4"]
    record = train(compose(overrides), tmp_path / "straight")
    assert record["lr_g"] == pytest.approx(2e-4 * (0.5 + 0.0) / 2)  # rates after steps 3 and 4, averaged
    # Resume the same 4-step run from its step-2 checkpoint in a fresh directory.
    middle = tmp_path / "straight" / "checkpoints" / "step_0000002.ckpt"
    train(compose([*overrides, f"trainer.resume={middle}"]), tmp_path / "resumed")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    assert load_checkpoint(middle)["schedulers"][0]["last_epoch"] == 2
    assert a["schedulers"][0]["last_epoch"] == b["schedulers"][0]["last_epoch"] == 4
    assert a["opt_g"]["param_groups"][0]["lr"] == b["opt_d"]["param_groups"][0]["lr"] == pytest.approx(0.0)
    for key in ("generator", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
