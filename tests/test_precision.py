"""Precision: `auto` resolves to what the hardware runs fast and is recorded resolved; the step's
finiteness check catches NaN losses and gradients; the fast path resumes bit-exactly."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gan_lab.errors import UserError
from gan_lab.jobs.train import train
from gan_lab.training import precision
from gan_lab.training.checkpoint import load_checkpoint
from gan_lab.training.precision import Precision, resolve_precision
from tests.conftest import TINY, compose

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY]
CPU = torch.device("cpu")


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_on_cpu_follows_native_bf16(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision("auto", CPU) == expected
    assert Precision("auto", CPU).name == expected


def test_explicit_precisions_are_kept_and_unknown_ones_fail():
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    with pytest.raises(UserError, match="unknown trainer.precision 'half'"):
        resolve_precision("half", CPU)
    with pytest.raises(UserError, match="fp16 needs CUDA"):
        Precision("fp16", CPU)


def test_cpuinfo_flags_decide_native_bf16(tmp_path):
    for flags, expected in (("fpu avx2 avx512f", False), ("fpu avx512f avx512_bf16", True), ("amx_bf16 x", True)):
        cpuinfo = tmp_path / f"cpuinfo-{expected}-{len(flags)}"
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        assert precision.cpu_has_native_bf16(str(cpuinfo)) is expected
    assert precision.cpu_has_native_bf16(str(tmp_path / "absent")) is False


def test_run_config_records_the_resolved_precision(monkeypatch, tmp_path):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    train(compose([*SYNTHETIC, "trainer.max_steps=2", "trainer.precision=auto"]), tmp_path / "a")
    ckpt = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.ckpt")
    assert ckpt["config"]["trainer"]["precision"] == "bf16"


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 1)
        self.b = nn.Linear(2, 1)


def test_check_finite_sees_nan_in_loss_or_any_gradient():
    from gan_lab.training.trainer import Trainer

    stub, net = Trainer.__new__(Trainer), _Tiny()  # _check_finite reads only cfg.nonfinite_check
    stub.cfg = SimpleNamespace(nonfinite_check="grads")
    scaler = Precision("fp32", CPU).make_scaler()
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    net.b.weight.grad = None  # parameters without gradients are ignored
    assert stub._check_finite(torch.tensor(1.0), net, scaler) is True
    net.a.bias.grad = torch.tensor([float("nan")])
    assert stub._check_finite(torch.tensor(1.0), net, scaler) is False
    net.a.bias.grad = torch.tensor([1.0])
    assert stub._check_finite(torch.tensor(float("inf")), net, scaler) is False
    net.a.weight.grad = torch.full((1, 2), float("-inf"))
    assert stub._check_finite(torch.tensor(1.0), net, scaler) is False
    stub.cfg.nonfinite_check = "loss"  # gradients are then left to the weight check before each checkpoint
    assert stub._check_finite(torch.tensor(1.0), net, scaler) is True
    assert stub._check_finite(torch.tensor(float("nan")), net, scaler) is False


def test_fast_path_resume_equals_uninterrupted_run(tmp_path):
    """bf16 autocast + channels_last is deterministic on CPU: stopping and resuming changes nothing."""
    overrides = [*SYNTHETIC, "trainer.max_steps=4", "trainer.precision=bf16", "trainer.channels_last=true"]
    train(compose(overrides), tmp_path / "straight")
    train(compose([*overrides, "trainer.max_steps=2"]), tmp_path / "interrupted")
    train(compose([*overrides, "trainer.resume=auto"]), tmp_path / "interrupted")
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = load_checkpoint(tmp_path / "interrupted" / "checkpoints" / "last.ckpt")
    assert a["config"]["trainer"]["precision"] == "bf16"
    for key in ("generator", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"
