"""DDP with 2 CPU processes (gloo) under torchrun equals one process at the same global batch: on one
node, and as two torchrun "nodes" joined by a c10d rendezvous on 127.0.0.1 (the multi-node path)."""

import os
import socket
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
    result = subprocess.run(
        [*launcher, str(REPO / "train.py"), *overrides, f"hydra.run.dir={run_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, **env_threads},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_two_nodes(run_dir, *overrides):
    """Two torchrun agents, one process each, as node 0 and node 1 of a c10d rendezvous (the commands of
    docs/distributed.md, with a shared run dir as a cluster's shared file system would give)."""
    rendezvous = [f"--rdzv_endpoint=127.0.0.1:{free_port()}", "--rdzv_backend=c10d", "--rdzv_id=two-nodes"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node_rank={rank}", "--nproc_per_node=1",
             *rendezvous, "--local_addr=127.0.0.1", "--max_restarts=0", str(REPO / "train.py"), *overrides,
             f"hydra.run.dir={run_dir}"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        for rank in (0, 1)
    ]
    try:
        errors = [node.communicate(timeout=300)[1] for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, err in zip(nodes, errors, strict=True):
        assert node.returncode == 0, err[-3000:]


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory):
    """The reference: one process with the global batch (16) of the two-process runs."""
    run_dir = tmp_path_factory.mktemp("single")
    train_cli(run_dir, *MLP, "trainer.batch_size=16")
    return load_checkpoint(run_dir / "checkpoints" / "last.ckpt")


def assert_matches_single_process(single: dict, run_dir) -> None:
    ddp = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert single["step"] == ddp["step"] == 3
    assert ddp["world_size"] == 2 and len(ddp["rng_per_rank"]) == 2
    for name, tensor in single["generator"].items():
        torch.testing.assert_close(ddp["generator"][name], tensor, atol=1e-6, rtol=0)
    # Rank 0 alone writes: one metrics file with one record per logged step, one set of checkpoints.
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.ckpt", "step_0000003.ckpt"]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_ddp_two_processes_equal_one_process_at_the_same_global_batch(tmp_path, single_process_run):
    train_cli(tmp_path / "ddp", *MLP, "trainer.batch_size=8", "trainer.strategy=ddp", processes=2)
    assert_matches_single_process(single_process_run, tmp_path / "ddp")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_nodes_by_c10d_rendezvous_equal_one_process(tmp_path, single_process_run):
    train_two_nodes(tmp_path / "nodes", *MLP, "trainer.batch_size=8", "trainer.strategy=ddp")
    assert_matches_single_process(single_process_run, tmp_path / "nodes")


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


def test_wgan_gp_step_under_ddp_runs(tmp_path):
    """The gradient penalty differentiates through the DDP-wrapped critic (double backward)."""
    run_dir = tmp_path / "wgan"
    train_cli(
        run_dir, "dataset=synthetic", "dataset.size=64", *TINY, "loss=wgan_gp", "model.discriminator.norm=none",
        "trainer.n_critic=2", "trainer.max_steps=2", "trainer.batch_size=8", "trainer.log_every=1",
        "trainer.strategy=ddp", processes=2,
    )
    state = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert state["step"] == 2 and state["world_size"] == 2
    import json

    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all("gp" in r and r["gp"] >= 0 for r in records)
