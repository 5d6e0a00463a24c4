"""The trainer's hooks: when each runs, and the one place a metrics record is built."""

from types import SimpleNamespace

import pytest
import torch

from gan_lab.training import distributed
from gan_lab.training.callbacks import Callback, MetricsLog, SignalStop, StopRequested
from gan_lab.training.trainer import TrainClock
from tests.conftest import TINY, compose, local_trainer

SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=3"]


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def setup(self, trainer):
        self.calls.append(("setup", trainer.step))

    def on_fit_start(self, trainer):
        self.calls.append(("start", trainer.step))

    def on_step_end(self, trainer, logs):
        assert "d_loss" in logs and "g_loss" in logs
        self.calls.append(("step", trainer.step))

    def on_fit_end(self, trainer):
        self.calls.append(("end", trainer.step))

    def teardown(self, trainer):
        self.calls.append(("teardown", trainer.step))


def test_hooks_run_in_order_and_on_fit_end_only_when_the_run_finished(tmp_path):
    recorder = Recorder()
    local_trainer(compose(SYNTHETIC), tmp_path / "a", [recorder]).fit()
    assert recorder.calls == [
        ("setup", 0), ("start", 0), ("step", 1), ("step", 2), ("step", 3), ("end", 3), ("teardown", 3)
    ]

    stop, recorder = SignalStop(), Recorder()
    trainer = local_trainer(compose(SYNTHETIC), tmp_path / "b", [recorder, stop])
    stop.signum = 15  # as if SIGTERM had arrived during the first step
    with pytest.raises(StopRequested):
        trainer.fit()
    assert recorder.calls == [("setup", 0), ("start", 0), ("step", 1), ("teardown", 1)]
    assert (tmp_path / "b" / "checkpoints" / "last.ckpt").is_file()


def test_record_averages_each_key_over_the_steps_that_logged_it():
    """A lazy regulariser's value is logged on some steps only; its mean must not count the others."""
    logged = []
    trainer = SimpleNamespace(
        step=0, max_steps=10, cfg=SimpleNamespace(n_critic=1), batches_per_epoch=4, batch_size=8,
        dist=distributed.SINGLE, device=torch.device("cpu"), clock=TrainClock(), step_metrics={},
        tracker=SimpleNamespace(log=logged.append), logged_metrics={}, train_seconds=0.0,
        batches=SimpleNamespace(take_wait_seconds=lambda: 0.0),  # the data source's wait since the last record
    )
    log = MetricsLog(every=2)
    log.on_fit_start(trainer)
    for logs in ({"d_loss": 1.0, "r1": 4.0}, {"d_loss": 3.0}):
        trainer.step += 1
        log.on_step_end(trainer, {k: torch.tensor(v) for k, v in logs.items()})
    assert len(logged) == 1 and logged[0]["step"] == 2 and logged[0]["epoch"] == 0.5
    assert logged[0]["d_loss"] == 2.0 and logged[0]["r1"] == 4.0
    assert list(logged[0])[-3:] == ["img_per_s", "data_wait", "train_seconds"]
    assert trainer.train_seconds == logged[0]["train_seconds"]  # what the next checkpoint carries
    trainer.step += 1
    trainer.step_metrics = {"eval/fid": 12.0}  # an evaluation between two records gets one of its own
    log.on_step_end(trainer, {"d_loss": torch.tensor(5.0)})
    assert logged[1] == {"step": 3, "epoch": 0.75, "eval/fid": 12.0}
