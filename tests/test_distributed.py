"""DDP with 2 CPU processes (gloo) under torchrun equals one process at the same global batch."""

import subprocess
import sys

import pytest
import torch

from gan_lab.training.checkpoint import load_checkpoint
from tests.conftest import REPO, TINY

MLP = [
    "dataset=synthetic", "dataset.size=64", *TINY,
    "model.generator._target_=tests.ddp_models.TinyMLPGenerator",
    "model.discriminator._target_=tests.ddp_models.TinyMLPDiscriminator",
    "trainer.max_steps=3", "trainer.log_every=1", "trainer.checkpoint_every=3", "trainer.sample_every=3",
]


def train_cli(run_dir, *overrides, processes=1):
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    env_threads = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    import os

    result = subprocess.run(
        [*launcher, str(REPO / "train.py"), *overrides, f"hydra.run.dir={run_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env_threads},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_ddp_two_processes_equal_one_process_at_the_same_global_batch(tmp_path):
    train_cli(tmp_path / "single", *MLP, "trainer.batch_size=16")
    train_cli(tmp_path / "ddp", *MLP, "trainer.batch_size=8", "trainer.strategy=ddp", processes=2)

    single = load_checkpoint(tmp_path / "single" / "checkpoints" / "last.ckpt")
    ddp = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.ckpt")
    assert single["step"] == ddp["step"] == 3
    assert ddp["world_size"] == 2 and len(ddp["rng_per_rank"]) == 2
    for name, tensor in single["generator"].items():
        torch.testing.assert_close(ddp["generator"][name], tensor, atol=1e-6, rtol=0)
    # Rank 0 alone writes: one metrics file with one record per logged step, one set of checkpoints.
    lines = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert sorted(p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()) == ["last.ckpt", "step_0000003.ckpt"]


def test_ddp_resume_continues_exactly(tmp_path):
    ddp = ["trainer.batch_size=8", "trainer.strategy=ddp"]
    train_cli(tmp_path / "straight", *MLP, *ddp, "trainer.max_steps=4", processes=2)
    train_cli(tmp_path / "resumed", *MLP, *ddp, "trainer.max_steps=2", processes=2)
    train_cli(tmp_path / "resumed", *MLP, *ddp, "trainer.max_steps=4", "trainer.resume=auto", processes=2)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    for key in ("generator", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after a DDP resume"
