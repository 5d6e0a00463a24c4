"""Everything a run does around its steps, as small objects the Trainer calls at fixed points.

The hooks are a subset of Lightning's Callback and mmgeneration's hooks:

    setup(trainer)              once, when the Trainer is built (before a resume, before the run dir is written)
    on_fit_start(trainer)       fit() begins (after any resume)
    on_step_end(trainer, logs)  after each train_step(); logs are that step's loss values
    on_fit_end(trainer)         the run reached its last step (not after a signal or an error)
    teardown(trainer)           always, last: release what on_fit_start took

Every rank calls every hook, in list order; a hook that runs a collective (any_true, the state
of a checkpoint, the mean over ranks) runs it on every rank. Callbacks share results through the
trainer (trainer.step_metrics, trainer.logged_metrics, trainer.best_metric), as Lightning's do.
training/run.py builds the list from the trainer config.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import torch
from torchvision.utils import save_image

from gan_lab.training import distributed
from gan_lab.training.state import write_state
from gan_lab.utils.rng import preserved_rng, sampling_mode


class Callback:
    def setup(self, trainer) -> None:
        pass

    def on_fit_start(self, trainer) -> None:
        pass

    def on_step_end(self, trainer, logs: dict) -> None:
        pass

    def on_fit_end(self, trainer) -> None:
        pass

    def teardown(self, trainer) -> None:
        pass


class StopRequested(Exception):
    """SIGINT / SIGTERM arrived; a checkpoint was saved at the step boundary."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class InTrainingEvaluation(Callback):
    """Every `every` steps: the evaluator's metrics (computed on rank 0, outside the training RNG streams and
    outside train_seconds) go into this step's record, and best.ckpt follows the metric it monitors
    (lower is better unless evaluator.higher_is_better)."""

    def __init__(self, evaluator, every: int):
        self.evaluator, self.every = evaluator, every

    def on_step_end(self, trainer, logs):
        if trainer.step % self.every:
            return
        with trainer.clock.paused():
            improved = False
            if trainer.dist.is_main:
                with preserved_rng():  # evaluation must not shift the training RNG streams
                    metrics = self.evaluator(trainer)
                trainer.step_metrics.update(metrics)
                improved = self._improves_best(trainer, metrics)
            if distributed.any_true(improved, trainer.dist, trainer.device):
                write_state(trainer, "best.ckpt", check_weights=False)

    def _improves_best(self, trainer, metrics: dict) -> bool:
        key = getattr(self.evaluator, "monitor", None)
        if key not in metrics:
            return False
        value = float(metrics[key])
        sign = -1.0 if getattr(self.evaluator, "higher_is_better", False) else 1.0
        if trainer.best_metric is not None and not sign * value < sign * trainer.best_metric:
            return False
        trainer.best_metric = value
        return True


class MetricsLog(Callback):
    """metrics.jsonl / W&B: every `every` steps and at the last step one record of the step's means since the
    previous record, throughput and training time; a step where another callback added metrics (evaluation)
    gets a record too. This is the one place a record is built."""

    def __init__(self, every: int):
        self.every = every

    def on_fit_start(self, trainer):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}  # per key: a lazy regulariser's value is not there every step
        self.last_step, self.last_seconds = trainer.step, trainer.clock.seconds()

    def on_step_end(self, trainer, logs):
        for k, v in logs.items():
            # Summed as tensors: no host sync per step on a GPU; read once per log_every.
            v = torch.as_tensor(v).detach().double()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1
        due = trainer.step % self.every == 0 or trainer.step == trainer.max_steps
        if not due and not trainer.step_metrics:
            return
        record = {"step": trainer.step, "epoch": trainer.step * trainer.cfg.n_critic / trainer.batches_per_epoch}
        if due:
            record.update(self._means_over_ranks(trainer))
            seconds = trainer.clock.seconds()
            images = (trainer.step - self.last_step) * trainer.batch_size * trainer.cfg.n_critic
            interval = max(seconds - self.last_seconds, 1e-9)
            record["img_per_s"] = images * trainer.dist.world_size / interval
            record["data_wait"] = trainer.batches.take_wait_seconds() / interval  # this rank's share of the time
            record["train_seconds"] = trainer.train_seconds = seconds
            self.sums, self.counts = {}, {}
            self.last_step, self.last_seconds = trainer.step, seconds
        record.update(trainer.step_metrics)
        trainer.tracker.log(record)
        if due:
            trainer.logged_metrics = record

    def _means_over_ranks(self, trainer) -> dict[str, float]:
        keys = sorted(self.sums) if trainer.dist.enabled else list(self.sums)  # the same order on every rank
        totals = torch.tensor([float(self.sums[k]) for k in keys], dtype=torch.float64, device=trainer.device)
        if trainer.dist.enabled:
            distributed.all_reduce_(totals, trainer.dist)
        world = trainer.dist.world_size
        return {k: float(total) / (self.counts[k] * world) for k, total in zip(keys, totals, strict=True)}


class ProgressBar(Callback):
    """A tqdm bar on rank 0 with the losses of the last record."""

    def on_fit_start(self, trainer):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=trainer.max_steps, initial=trainer.step, disable=not trainer.dist.is_main, desc="train",
            dynamic_ncols=True,
        )

    def on_step_end(self, trainer, logs):
        self.bar.update(1)
        record = trainer.logged_metrics
        if record.get("step") == trainer.step:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k.endswith("loss")})

    def teardown(self, trainer):
        self.bar.close()


class SampleGrids(Callback):
    """samples/step_*.png every `every` steps and at the end: G (EMA when on) on fixed inputs, so grids
    are comparable across steps; drawn without touching the training RNG or BatchNorm statistics."""

    def __init__(self, every: int, num_samples: int, mode: str):
        self.every, self.num_samples, self.mode = every, num_samples, mode

    def setup(self, trainer):  # a dataset that cannot give a preview fails here, before the run dir is written
        self.preview = trainer.data.preview_batch(self.num_samples).to(trainer.device, trainer.memory_format)
        self.fixed_z = None
        if trainer.latent_dim:
            gen = torch.Generator().manual_seed(trainer.seed + 12345)
            self.fixed_z = torch.randn(self.num_samples, trainer.latent_dim, generator=gen).to(trainer.device)

    def on_step_end(self, trainer, logs):
        if trainer.step % self.every == 0:
            self.save(trainer)

    def on_fit_end(self, trainer):
        if trainer.step % self.every != 0:
            self.save(trainer)

    def save(self, trainer) -> Path | None:
        if not trainer.dist.is_main:
            return None
        G = trainer.sampling_generator
        with preserved_rng(), sampling_mode(G, self.mode):
            with trainer.precision.autocast():
                fake = G(self.fixed_z, self.preview.cond)
        images = trainer.data.preview_images(fake.float(), self.preview)
        path = trainer.run_dir / "samples" / f"step_{trainer.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        nrow = trainer.data.preview_nrow(images.shape[0])
        save_image(images, path, nrow=nrow, normalize=True, value_range=(-1, 1))
        trainer.tracker.log_image(trainer.step, "samples", path)
        return path


class Checkpointing(Callback):
    """checkpoints/step_*.ckpt every `every` steps (the newest keep_last kept), last.ckpt with each of them
    and at the end, so a run can always be resumed from its newest state."""

    def __init__(self, every: int, keep_last: int):
        self.every, self.keep_last = every, keep_last

    def on_step_end(self, trainer, logs):
        if trainer.step % self.every == 0:
            self.save(trainer, periodic=True)

    def on_fit_end(self, trainer):
        self.save(trainer, periodic=trainer.step % self.every != 0)

    def save(self, trainer, periodic: bool) -> Path:
        names = [f"step_{trainer.step:07d}.ckpt", "last.ckpt"] if periodic else ["last.ckpt"]
        last = write_state(trainer, *names)
        if periodic and trainer.dist.is_main:
            old = sorted((trainer.run_dir / "checkpoints").glob("step_*.ckpt"))
            for path in old[: max(0, len(old) - self.keep_last)]:
                path.unlink(missing_ok=True)
        return last


class SignalStop(Callback):
    """SIGINT / SIGTERM: finish the step, write last.ckpt, raise StopRequested (every rank, together);
    the same signal twice stops at once, without the checkpoint."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def on_signal(self, signum, frame) -> None:
        if self.signum is not None:  # asked twice: stop now, without the checkpoint
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received twice")
        self.signum = signum
        print(
            f"{signal.Signals(signum).name}: saving a checkpoint after this step (send it again to stop at once)",
            file=sys.stderr,
        )

    def on_fit_start(self, trainer):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self.on_signal)
            except ValueError:  # not the main thread: leave signals alone
                pass

    def on_step_end(self, trainer, logs):
        if not distributed.any_true(self.signum is not None, trainer.dist, trainer.device):
            return
        self.signum = self.signum or signal.SIGTERM  # another rank received it
        path = write_state(trainer, "last.ckpt")
        raise StopRequested(
            f"stopped by {signal.Signals(self.signum).name} at step {trainer.step}; checkpoint {path}; "
            f"continue with the same overrides plus trainer.resume=auto hydra.run.dir={trainer.run_dir}",
            self.signum,
        )

    def on_fit_end(self, trainer):  # the steps are over: a signal during the job's own end (pictures) acts as usual
        self.teardown(trainer)

    def teardown(self, trainer):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
