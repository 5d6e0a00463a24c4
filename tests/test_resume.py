"""Exact resume: a run interrupted (signal, SIGKILL) and resumed ends bitwise equal to an uninterrupted one."""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gan_lab.jobs.train import train
from gan_lab.training.callbacks import SignalStop
from gan_lab.training.checkpoint import (
    atomic_write_bytes,
    capture_rng_state,
    load_checkpoint,
    remove_stale_temp_files,
    restore_rng_state,
)
from gan_lab.training.run import resolve_resume
from gan_lab.training.trainer import Trainer
from tests.conftest import REPO, TINY, compose, local_trainer
from tests.fakes import all_params

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY]
# EMA, two critic steps and Adam state: everything a resume has to restore.
FULL_STATE = [*SYNTHETIC, "trainer.max_steps=7", "trainer.ema_decay=0.9", "trainer.n_critic=2"]


def assert_same_run(a_path, b_path):
    a, b = load_checkpoint(a_path), load_checkpoint(b_path)
    assert a["step"] == b["step"]
    pa, pb = all_params(a), all_params(b)
    assert pa.keys() == pb.keys() and any(k.startswith("ema.") for k in pa)
    for name, tensor in pa.items():
        assert torch.equal(tensor, pb[name]), f"{name} differs"
    for opt in ("opt_g", "opt_d"):
        for index, state in a[opt]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b[opt]["state"][index][key]), f"{opt}.{index}.{key} differs"
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_rng_states_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.randn(5), np.random.randn(3), random.random()  # move each stream (numpy keeps a cached gaussian)
    state = capture_rng_state()
    expected = (torch.randn(4), np.random.randn(4), [random.random() for _ in range(4)])
    torch.save(state, tmp_path / "rng.pt")
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert torch.equal(torch.randn(4), expected[0])
    assert np.array_equal(np.random.randn(4), expected[1])
    assert [random.random() for _ in range(4)] == expected[2]


def test_run_stopped_by_sigterm_and_resumed_equals_uninterrupted_run(tmp_path, monkeypatch):
    train(compose(FULL_STATE), tmp_path / "straight")

    step = Trainer.train_step

    def train_step_then_signal(self):  # SIGTERM arrives during step 3, between two checkpoints (every 2)
        logs = step(self)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return logs

    interrupted = tmp_path / "interrupted"
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "train_step", train_step_then_signal)
        record = train(compose(FULL_STATE), interrupted)
    assert record == {"stopped_at": 3, "stopped_by_signal": signal.SIGTERM}
    assert load_checkpoint(interrupted / "checkpoints" / "last.ckpt")["step"] == 3
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "the handler is removed after fit"

    record = train(compose([*FULL_STATE, "trainer.resume=auto"]), interrupted)
    assert record["step"] == 7
    assert_same_run(tmp_path / "straight" / "checkpoints" / "last.ckpt", interrupted / "checkpoints" / "last.ckpt")


def test_resume_from_any_checkpoint_of_a_run_gives_the_same_end(tmp_path):
    overrides = [*FULL_STATE, "trainer.checkpoint_every=1", "trainer.keep_last=10"]
    straight = tmp_path / "straight"
    train(compose(overrides), straight)
    for ckpt in (straight / "checkpoints" / "step_0000001.ckpt", straight / "checkpoints" / "step_0000004.ckpt"):
        again = tmp_path / ckpt.stem
        train(compose([*overrides, f"trainer.resume={ckpt}"]), again)
        assert_same_run(straight / "checkpoints" / "last.ckpt", again / "checkpoints" / "last.ckpt")


def test_pictures_and_metrics_do_not_change_the_training_trajectory(tmp_path):
    """Grids and evaluations draw random numbers; they must not shift the RNG streams training uses,
    or a resume (or a different sample_every) would change the run."""
    from gan_lab.config import validate_trainer
    from gan_lab.training.run import build_callbacks

    def run(sample_every, evaluator):
        torch.manual_seed(0)
        cfg = compose([*SYNTHETIC, f"trainer.sample_every={sample_every}", "trainer.eval_every=1"])
        callbacks = build_callbacks(validate_trainer(cfg.trainer), evaluator)
        trainer = local_trainer(cfg, tmp_path / str(sample_every), callbacks)
        trainer.fit()
        return trainer.G.state_dict()

    def noisy_metric(trainer):
        return {"noise": float(torch.randn(3).sum() + np.random.rand() + random.random())}

    quiet = run(sample_every=1000, evaluator=None)
    busy = run(sample_every=1, evaluator=noisy_metric)
    assert all(torch.equal(quiet[k], busy[k]) for k in quiet)


def test_wandb_run_id_is_stored_and_resumed(tmp_path, monkeypatch):
    import wandb

    calls = []

    class FakeRun:
        id = "run-abc123"

        def log(self, *args, **kwargs):
            pass

        def finish(self):
            pass

    def fake_init(**kwargs):
        calls.append(kwargs)
        return FakeRun()

    monkeypatch.setattr(wandb, "init", fake_init)
    overrides = [*SYNTHETIC, "logger=wandb", "logger.mode=offline", "trainer.max_steps=2"]
    train(compose(overrides), tmp_path)
    assert calls[0]["id"] is None and calls[0]["resume"] is None
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["wandb_run_id"] == "run-abc123"

    train(compose([*overrides, "trainer.max_steps=4", "trainer.resume=auto"]), tmp_path)
    assert calls[1]["id"] == "run-abc123" and calls[1]["resume"] == "allow"


def test_a_torn_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    atomic_write_bytes(target, b"old checkpoint")

    def killed_before_rename(src, dst):
        raise KeyboardInterrupt("killed between write and rename")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", killed_before_rename)
        with pytest.raises(KeyboardInterrupt):
            atomic_write_bytes(target, b"new checkpoint, half written")
    assert target.read_bytes() == b"old checkpoint"
    leftovers = list(tmp_path.glob(".last.ckpt.tmp-*"))
    assert len(leftovers) == 1
    (tmp_path / ".step_0000002.ckpt.tmp-999999999").write_bytes(b"from a killed process")
    remove_stale_temp_files(tmp_path)
    assert list(tmp_path.glob(".*.tmp-*")) == leftovers, "only this process's own temp file is kept"


def test_keep_last_prunes_old_periodic_checkpoints(tmp_path):
    train(compose([*SYNTHETIC, "trainer.max_steps=10", "trainer.keep_last=2"]), tmp_path)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["last.ckpt", "step_0000008.ckpt", "step_0000010.ckpt"]


def test_resume_auto_falls_back_to_the_newest_periodic_checkpoint(tmp_path):
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    assert resolve_resume("auto", tmp_path) is None
    for name in ("step_0000002.ckpt", "step_0000010.ckpt"):
        (ckpts / name).write_bytes(b"x")
    assert resolve_resume("auto", tmp_path) == ckpts / "step_0000010.ckpt"
    (ckpts / "last.ckpt").write_bytes(b"x")
    assert resolve_resume("auto", tmp_path) == ckpts / "last.ckpt"


def test_a_second_signal_stops_at_once():
    stop = SignalStop()
    stop.on_signal(signal.SIGINT, None)
    assert stop.signum == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        stop.on_signal(signal.SIGINT, None)


def test_sigterm_to_the_cli_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    log = tmp_path / "stderr.txt"
    cmd = [
        sys.executable,
        str(REPO / "train.py"),
        *SYNTHETIC,
        "trainer.max_steps=100000",
        "trainer.log_every=1000",
        "trainer.sample_every=1000",
        "trainer.checkpoint_every=1000",
        f"hydra.run.dir={run_dir}",
    ]
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.time() + 60
            while "run dir " not in log.read_text() and time.time() < deadline and proc.poll() is None:
                time.sleep(0.05)
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = log.read_text()
    assert code == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    step = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["step"]
    assert f"stopped by SIGTERM at step {step}" in stderr
    assert f"trainer.resume=auto hydra.run.dir={run_dir}" in stderr


def test_sigkill_at_random_points_then_resume_is_bitwise_exact(tmp_path):
    """Three SIGKILLs of a real train.py process at random moments (during steps, grid and checkpoint
    writes alike); each time resumed with trainer.resume=auto. ~40 s on one thread, hence slow."""
    from tests.kill_resume import kill_resume

    tiny = [
        "dataset=synthetic",
        "dataset.size=128",
        "model.generator.base_width=8",
        "model.discriminator.base_width=8",
        "model.generator.latent_dim=16",
        "trainer.batch_size=16",
        "trainer.ema_decay=0.9",
    ]
    summary = kill_resume(
        tmp_path,
        kills=3,
        max_steps=60,
        checkpoint_every=4,
        experiment="dcgan_mnist",
        extra=tiny,
        seed=random.randrange(1000),
    )
    assert summary["result"] == "PASS", summary


def test_resuming_with_changed_settings_warns_and_names_them(tmp_path, capsys):
    overrides = [*SYNTHETIC, "trainer.max_steps=2"]
    train(compose(overrides), tmp_path)
    capsys.readouterr()
    train(compose([*SYNTHETIC, "trainer.resume=auto", "seed=1", "optimizer.lr=1e-3"]), tmp_path)
    err = capsys.readouterr().err
    assert "warning: resuming with settings that differ from the checkpoint" in err
    assert "seed: 0 -> 1" in err and "optimizer.lr: 0.0002 -> 0.001" in err
    assert "max_steps" not in err.split("warning:")[1].splitlines()[0], "a longer run is a normal resume"


@pytest.mark.parametrize(
    "model",
    [
        # dropout in D (and, with sample_mode=train, in G's grids): the global RNG stream must be restored
        [
            "model=mlp",
            "model.generator.hidden=[16]",
            "model.discriminator.hidden=[16]",
            "model.generator.dropout=0.2",
            "trainer.sample_mode=train",
        ],
        [
            "model=cgan_dcgan",
            "model.generator.embed_dim=4",
            "model.generator.base_width=8",
            "model.discriminator.base_width=8",
        ],
        # spectral norm: the power iteration's u, v change at every D forward and must come back exactly
        ["model=sngan", "model.generator.base_width=4", "model.discriminator.base_width=4", "loss=hinge"],
    ],
    ids=["mlp_dropout", "cgan_dcgan", "sngan_spectral_norm"],
)
def test_other_model_families_resume_exactly(model, tmp_path):
    not_dcgan = [o for o in SYNTHETIC if not o.startswith("model.")]  # TINY's widths are DCGAN keys
    overrides = [*not_dcgan, *model, "model.generator.latent_dim=16", "trainer.max_steps=5", "trainer.ema_decay=0.9"]
    train(compose(overrides), tmp_path / "straight")
    train(compose([*overrides, "trainer.max_steps=3"]), tmp_path / "interrupted")
    train(compose([*overrides, "trainer.resume=auto"]), tmp_path / "interrupted")
    assert_same_run(
        tmp_path / "straight" / "checkpoints" / "last.ckpt", tmp_path / "interrupted" / "checkpoints" / "last.ckpt"
    )
