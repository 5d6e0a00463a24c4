"""The one adversarial trainer: the steps, and hooks for everything around them.

    for each step:   n_critic x D update:  loss.discriminator_loss(D, real, fake.detach(), cond)
                                           (+ loss.discriminator_penalty(...) on the steps it asks for)
                     1 x        G update:  loss.generator_loss(D, fake, cond, real)
                     EMA update, then callback.on_step_end: evaluation, metrics.jsonl, grids, checkpoints, signals

The fake of the last critic update is reused by the G update (as in the
pytorch/examples DCGAN and pix2pix loops), so G runs one forward pass per step
when n_critic=1. Everything objective-specific lives in the loss object, and
everything that is not a step lives in a callback (training/callbacks.py).

Data order is a seeded permutation per epoch and augmentation is seeded per
batch (training/data_loading.py), so the state of a run is (step, weights, optimizers, RNG): resuming
from a checkpoint continues exactly where the run stopped (training/state.py).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import Tensor, nn

from gan_lab.data.base import ImageData
from gan_lab.errors import UserError
from gan_lab.tracking import Tracker
from gan_lab.training import distributed
from gan_lab.training.batchnorm_recalibration import build_recalibration
from gan_lab.training.data_loading import BatchPlan, BatchSource
from gan_lab.training.ema import EMA
from gan_lab.training.nonfinite import NonFiniteError, all_finite, last_good_checkpoint
from gan_lab.training.precision import Precision
from gan_lab.training.schedules import make_scheduler
from gan_lab.training.state import load_trainer_state, trainer_state


def step_limit(
    max_steps: int | None, max_epochs: float | None, batches_per_epoch: int, n_critic: int
) -> tuple[int, str]:
    """The run length in generator steps and which setting gives it: the first limit reached
    (PyTorch Lightning's convention); None removes a limit. An epoch is batches_per_epoch D batches."""
    limits = []
    if max_steps is not None:
        limits.append((int(max_steps), f"trainer.max_steps={max_steps}"))
    if max_epochs is not None:
        limits.append((math.ceil(max_epochs * batches_per_epoch / n_critic), f"trainer.max_epochs={max_epochs:g}"))
    if not limits:
        raise UserError("trainer.max_steps and trainer.max_epochs are both null; set one of them")
    return min(limits, key=lambda limit: limit[0])


@dataclass
class TrainingParts:
    """What build.py makes from the config: the networks, the objective, the optimisers and the data."""

    generator: nn.Module
    discriminator: nn.Module
    loss: object  # an AdversarialLoss (gan_lab.losses)
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    data: ImageData
    scheduler_factories: tuple = (None, None)  # optional LR schedule partials for (opt_g, opt_d), see schedules.py


@dataclass
class RunContext:
    """Where this process trains and what its checkpoints carry along."""

    run_dir: Path
    tracker: Tracker
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    config: dict = field(default_factory=dict)  # the resolved config, stored in every checkpoint
    dist: distributed.DistContext = distributed.SINGLE


class TrainClock:
    """Wall time of training without what runs under paused() (evaluation, BatchNorm recalibration), for img/s and
    train_seconds (time-to-quality); offset is the training time of the run before this fit() (a resume)."""

    def __init__(self, offset: float = 0.0):
        self.started = time.perf_counter()
        self.paused_seconds = 0.0
        self.offset = offset
        self._depth = 0  # paused() inside paused() (BatchNorm recalibration within an evaluation) counts once

    def seconds(self) -> float:
        return self.offset + time.perf_counter() - self.started - self.paused_seconds

    @contextlib.contextmanager
    def paused(self):
        start = time.perf_counter()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.paused_seconds += time.perf_counter() - start


class Trainer:
    def __init__(self, cfg: DictConfig, parts: TrainingParts, run: RunContext, callbacks=()):
        """cfg: the validated trainer section. callbacks: training/callbacks.py objects, called in order."""
        self.cfg = cfg
        self.run = run
        self.run_dir, self.tracker, self.device, self.seed = Path(run.run_dir), run.tracker, run.device, run.seed
        self.dist = run.dist
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        # G and D are the bare modules (checkpoints, sampling, D in the G step); the *_train
        # versions are what training forwards go through: DDP wrappers under trainer.strategy=ddp.
        self.G = parts.generator.to(self.device, memory_format=self.memory_format)
        self.D = parts.discriminator.to(self.device, memory_format=self.memory_format)
        sync_bn = cfg.get("sync_batchnorm", False)
        self.G_train = distributed.wrap(self.G, self.dist, self.device, sync_bn)
        self.D_train = distributed.wrap(self.D, self.dist, self.device, sync_bn)
        if self.dist.enabled and sync_bn:  # conversion replaced the BatchNorm layers inside the wrappers
            self.G, self.D = self.G_train.module, self.D_train.module
        self.loss = parts.loss
        self.opt_g, self.opt_d = parts.opt_g, parts.opt_d
        self.data = parts.data
        self.precision = Precision(cfg.precision, self.device)
        self.scaler_g = self.precision.make_scaler()
        self.scaler_d = self.precision.make_scaler()
        self.ema = EMA(self.G, cfg.ema_decay, cfg.ema_warmup, cfg.ema_buffers) if cfg.ema_decay > 0 else None
        # trainer.bn_recalibration: pictures, metrics and checkpoints get a recalibrated copy of the sampling
        # generator (training/batchnorm_recalibration.py); None when off
        self.bn_recalibration = build_recalibration(
            cfg.bn_recalibration, self.G, self.seed, cfg.batch_size, log=self.dist.is_main
        )
        self.step = 0
        self.nonfinite_in_a_row = 0
        self.nonfinite_total = 0
        self.best_metric: float | None = None  # kept by the evaluation callback, saved with the run
        self.train_seconds = 0.0  # training time at the last record (the metrics log), carried over resumes

        self.batch_size = cfg.batch_size  # per process; the global batch is batch_size x world_size
        self.global_batch_size = cfg.batch_size * self.dist.world_size
        self.num_examples = len(self.data)
        if self.num_examples < self.global_batch_size:
            raise UserError(
                f"the global batch ({self.global_batch_size}) is larger than the dataset ({self.num_examples} "
                f"examples); lower trainer.batch_size"
            )
        self.plan = BatchPlan(self.seed, self.num_examples, self.batch_size, self.dist.world_size, self.dist.rank)
        self.batches_per_epoch = self.plan.batches_per_epoch  # drop_last
        self.max_steps, self.step_limit = self._step_limit()  # the run length and which setting gives it
        # Batches built in-process or by dataset.num_workers DataLoader workers; it times data_wait.
        self.batches = BatchSource(
            self.data, self.plan, self.device, self.memory_format, num_workers=getattr(self.data, "num_workers", 0),
            stop=self.max_steps * cfg.n_critic,
        )
        self.latent_dim = getattr(self.G, "latent_dim", 0)
        make_g, make_d = parts.scheduler_factories
        self.schedulers = [
            make_scheduler(make_g, self.opt_g, self.max_steps), make_scheduler(make_d, self.opt_d, self.max_steps)
        ]
        # Latents come from their own generator, drawn for the global batch and sliced per rank,
        # so a DDP run sees the same z as one process with the same global batch.
        self.z_generator = torch.Generator(device=self.device).manual_seed(self.seed)

        # What callbacks share during fit(), as Lightning's trainer.callback_metrics / logged_metrics:
        self.clock = TrainClock()
        self.step_metrics: dict = {}  # added by callbacks during this step's on_step_end (evaluation)
        self.logged_metrics: dict = {}  # the last record written by the metrics log
        self.callbacks = list(callbacks)
        for callback in self.callbacks:  # checks and fixed inputs, before anything is written or resumed
            callback.setup(self)

    def _step_limit(self) -> tuple[int, str]:
        """Generator steps of the whole run: whichever of trainer.max_steps / max_epochs comes first."""
        return step_limit(self.cfg.max_steps, self.cfg.max_epochs, self.batches_per_epoch, self.cfg.n_critic)

    # -- pieces of a step ---------------------------------------------------
    def _latents(self, n: int) -> Tensor | None:
        if not self.latent_dim:
            return None
        z = torch.randn(n * self.dist.world_size, self.latent_dim, device=self.device, generator=self.z_generator)
        return z[self.dist.rank * n : (self.dist.rank + 1) * n]

    def batch_indices(self, batch_number: int) -> Tensor:
        """Example indices of this process's part of the n-th global batch (a pure function of seed and n)."""
        return self.plan.indices(batch_number)

    def _check_finite(self, loss: Tensor, net: nn.Module, scaler) -> bool:
        """True when the loss and (nonfinite_check=grads, unless a GradScaler handles overflow) the gradients
        are finite. Reading every gradient once more costs a few % of a small MLP GAN's step (docs/benchmarks.md)."""
        finite = torch.isfinite(loss.detach())
        if self.cfg.nonfinite_check == "grads" and not scaler.is_enabled():
            grads = [p.grad.detach() for p in net.parameters() if p.grad is not None]
            if grads:
                finite = finite & all_finite(grads)
        return bool(finite)

    def _update(self, name: str, loss: Tensor, net: nn.Module, opt, scaler) -> bool:
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        finite = self._check_finite(loss, net, scaler)
        if not distributed.all_true(finite, self.dist, self.device):  # every rank skips or stops together
            self.nonfinite_total += 1
            if self.cfg.nonfinite == "stop":
                value = float(loss.detach())
                what = f"{name} {value:.4g}" if not math.isfinite(value) else f"gradient of the {name}"
                raise NonFiniteError(
                    f"non-finite {what} at step {self.step + 1}; {last_good_checkpoint(self.run_dir)}; lower the "
                    f"learning rate, set trainer.grad_clip, or trainer.nonfinite=skip"
                )
            opt.zero_grad(set_to_none=True)
            return False
        if self.cfg.grad_clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        return True

    def train_step(self) -> dict[str, Tensor]:
        """One step: n_critic discriminator updates, then one generator update."""
        logs: dict[str, Tensor] = {}
        ok = True
        n_critic = self.cfg.n_critic
        for i in range(n_critic):
            d_step = self.step * n_critic + i  # D updates so far: the batch number and the lazy-penalty clock
            batch = self.batches.get(d_step)
            z = self._latents(batch.real.shape[0])
            last = i == n_critic - 1
            with self.precision.autocast(), (contextlib.nullcontext() if last else torch.no_grad()):
                fake = self.G_train(z, batch.cond)
            with self.precision.autocast():
                d_loss, d_logs = self.loss.discriminator_loss(self.D_train, batch.real, fake.detach(), batch.cond)
                penalty = self.loss.discriminator_penalty(self.D_train, batch.real, batch.cond, d_step)
            if penalty is not None:  # a lazy regulariser's step, e.g. R1 every loss.r1_every D updates
                d_loss = d_loss + penalty[0]
                logs.update(penalty[1])
            ok &= self._update("discriminator loss", d_loss, self.D, self.opt_d, self.scaler_d)
        logs.update(d_logs)

        # G update through the last fake. D's weights need no gradients here, and the bare D is
        # used so that under DDP the G step never synchronises D's gradients.
        self.D.requires_grad_(False)
        try:
            with self.precision.autocast():
                g_loss, g_logs = self.loss.generator_loss(self.D, fake, batch.cond, batch.real)
            ok &= self._update("generator loss", g_loss, self.G, self.opt_g, self.scaler_g)
        finally:
            self.D.requires_grad_(True)
        logs.update(g_logs)
        for scheduler in self.schedulers:  # once per generator step, whatever n_critic is
            if scheduler is not None:
                scheduler.step()
        if any(s is not None for s in self.schedulers):
            logs["lr_g"] = torch.tensor(self.opt_g.param_groups[0]["lr"])
            logs["lr_d"] = torch.tensor(self.opt_d.param_groups[0]["lr"])

        if ok:
            self.nonfinite_in_a_row = 0
            if self.ema is not None:
                self.ema.update(self.G, self.step)
        else:
            self.nonfinite_in_a_row += 1
            if self.nonfinite_in_a_row >= self.cfg.max_nonfinite_skips:
                raise NonFiniteError(
                    f"{self.nonfinite_in_a_row} non-finite steps in a row, the last at step {self.step + 1} "
                    f"(trainer.max_nonfinite_skips={self.cfg.max_nonfinite_skips}); "
                    f"{last_good_checkpoint(self.run_dir)}; lower the learning rate or set trainer.grad_clip"
                )
        self.step += 1
        return logs

    # -- state ------------------------------------------------------------------
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for pictures and metrics: EMA weights when on; with trainer.bn_recalibration a
        copy of it with recomputed BatchNorm statistics (computed once per step)."""
        source = self.ema.model if self.ema is not None else self.G
        if self.bn_recalibration is None:
            return source
        with self.clock.paused():  # not training time (~1.5 s for 20 x 64 latents of the default DCGAN, 1 thread)
            return self.bn_recalibration(source, self.step)

    def bn_recalibration_entry(self) -> dict | None:
        """The checkpoint's recomputed statistics of the sampling generator (None when off)."""
        if self.bn_recalibration is None:
            return None
        source, weights = (self.ema.model, "ema") if self.ema is not None else (self.G, "generator")
        with self.clock.paused():
            return self.bn_recalibration.checkpoint_entry(source, self.step, weights)

    def state_dict(self) -> dict:
        return trainer_state(self)

    def load_state_dict(self, state: dict) -> None:
        load_trainer_state(self, state)
        if self.bn_recalibration is not None:
            self.bn_recalibration.forget()  # the weights changed: recalibrate again, even at the same step

    # -- the loop ---------------------------------------------------------------
    def _call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def fit(self) -> dict:
        """Train until max_steps (the first of trainer.max_steps / max_epochs); returns the last logged record."""
        self.G.train()
        self.D.train()
        self.clock = TrainClock(offset=self.train_seconds)
        try:
            self._call("on_fit_start")
            while self.step < self.max_steps:
                logs = self.train_step()
                self._call("on_step_end", logs)
                self.step_metrics = {}
            self._call("on_fit_end")
        finally:
            self._call("teardown")
            self.batches.close()
        return self.logged_metrics
