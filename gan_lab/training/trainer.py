"""The one adversarial trainer.

    for each step:   n_critic x D update:  loss.discriminator_loss(D, real, fake.detach(), cond)
                     1 x        G update:  loss.generator_loss(D, fake, cond, real)
                     EMA update, logging, sample grid, checkpoint

The fake of the last critic update is reused by the G update (as in the
pytorch/examples DCGAN and pix2pix loops), so G runs one forward pass per step
when n_critic=1. Everything objective-specific lives in the loss object.

Data order is a seeded permutation per epoch and augmentation is seeded per
batch, so the state of a run is (step, weights, optimizers, RNG): resuming
from a checkpoint continues exactly where the run stopped.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torchvision.utils import save_image

from gan_lab.data.base import Batch, ImageData
from gan_lab.errors import UserError
from gan_lab.tracking import Tracker
from gan_lab.training import distributed
from gan_lab.training.checkpoint import (
    capture_rng_state,
    remove_stale_temp_files,
    restore_rng_state,
    save_checkpoint,
)
from gan_lab.training.data_loading import BatchPlan, BatchSource
from gan_lab.training.ema import EMA
from gan_lab.training.precision import Precision
from gan_lab.training.schedules import make_scheduler


def _all_finite(tensors: list[Tensor]) -> Tensor:
    """One fused norm per tensor and a single reduction: a 0-d bool tensor, read with one host sync."""
    return torch.isfinite(torch.stack(torch._foreach_norm(tensors))).all()


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


class NonFiniteError(UserError):
    """A loss or gradient became NaN / inf under nonfinite=stop."""


class StopRequested(Exception):
    """SIGINT / SIGTERM arrived; a checkpoint was saved at the step boundary."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


@contextlib.contextmanager
def preserved_rng():
    """Run pictures and metrics without consuming the training RNG streams, so how often
    they run (sample_every, eval_every, a resume) never changes the training trajectory."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


@contextlib.contextmanager
def sampling_mode(model: nn.Module, mode: str):
    """Run G for pictures without changing training state.

    eval: BatchNorm uses running statistics, dropout off. train: batch
    statistics and dropout (pix2pix's test-time setting); running statistics
    are saved and restored so drawing a grid never alters the run. The RNG is
    forked too: dropout draws for a picture do not shift the training stream,
    so a resumed run stays exact however its grids were drawn.
    """
    was_training = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items()} if mode == "train" else None
    model.train(mode == "train")
    cuda_devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=cuda_devices):
            yield model
    finally:
        if saved is not None:
            model.load_state_dict(saved)
        model.train(was_training)


class Trainer:
    def __init__(
        self,
        cfg: DictConfig,  # the validated trainer section
        generator: nn.Module,
        discriminator: nn.Module,
        loss,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        data: ImageData,
        run_dir: str | Path,
        tracker: Tracker,
        device: torch.device,
        seed: int,
        config_dict: dict,
        evaluator=None,  # optional callable(trainer) -> dict of metrics, run every eval_every steps
        dist_ctx: distributed.DistContext = distributed.SINGLE,
        scheduler_factories=(None, None),  # optional LR schedule partials for (opt_g, opt_d), see schedules.py
    ):
        self.cfg = cfg
        self.device = device
        self.dist = dist_ctx
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        # G and D are the bare modules (checkpoints, sampling, D in the G step); the *_train
        # versions are what training forwards go through: DDP wrappers under trainer.strategy=ddp.
        self.G = generator.to(device, memory_format=self.memory_format)
        self.D = discriminator.to(device, memory_format=self.memory_format)
        sync_bn = cfg.get("sync_batchnorm", False)
        self.G_train = distributed.wrap(self.G, dist_ctx, device, sync_bn)
        self.D_train = distributed.wrap(self.D, dist_ctx, device, sync_bn)
        if dist_ctx.enabled and sync_bn:  # conversion replaced the BatchNorm layers inside the wrappers
            self.G, self.D = self.G_train.module, self.D_train.module
        self.loss = loss
        self.opt_g, self.opt_d = opt_g, opt_d
        self.data = data
        self.run_dir = Path(run_dir)
        self.tracker = tracker
        self.seed = seed
        self.config_dict = config_dict
        self.evaluator = evaluator
        self.precision = Precision(cfg.precision, device)
        self.scaler_g = self.precision.make_scaler()
        self.scaler_d = self.precision.make_scaler()
        self.ema = EMA(self.G, cfg.ema_decay, cfg.ema_warmup, cfg.ema_buffers) if cfg.ema_decay > 0 else None
        self.step = 0
        self.nonfinite_in_a_row = 0
        self.nonfinite_total = 0
        self.best_metric: float | None = None
        self.train_seconds = 0.0  # wall time of training outside in-training evaluation, over resumes
        self._stop_signal: int | None = None

        self.batch_size = cfg.batch_size  # per process; the global batch is batch_size x world_size
        self.global_batch_size = cfg.batch_size * dist_ctx.world_size
        self.num_examples = len(data)
        if self.num_examples < self.global_batch_size:
            raise UserError(
                f"the global batch ({self.global_batch_size}) is larger than the dataset ({self.num_examples} "
                f"examples); lower trainer.batch_size"
            )
        self.plan = BatchPlan(seed, self.num_examples, self.batch_size, dist_ctx.world_size, dist_ctx.rank)
        self.batches_per_epoch = self.plan.batches_per_epoch  # drop_last
        limit = step_limit(cfg.max_steps, cfg.max_epochs, self.batches_per_epoch, cfg.n_critic)
        self.max_steps, self.step_limit = limit  # the run length and which setting gives it
        # Batches built in-process or by dataset.num_workers DataLoader workers; it times data_wait.
        self.batches = BatchSource(
            data, self.plan, device, self.memory_format, num_workers=getattr(data, "num_workers", 0),
            stop=self.max_steps * cfg.n_critic,
        )
        self.latent_dim = getattr(self.G, "latent_dim", 0)
        make_g, make_d = scheduler_factories
        self.schedulers = [make_scheduler(make_g, opt_g, self.max_steps), make_scheduler(make_d, opt_d, self.max_steps)]
        # Fixed inputs of the periodic grids, so progress is comparable across steps.
        self.preview = data.preview_batch(cfg.num_samples).to(device, self.memory_format)
        self.fixed_z = self._fixed_latents(cfg.num_samples)
        # Latents come from their own generator, drawn for the global batch and sliced per rank,
        # so a DDP run sees the same z as one process with the same global batch.
        self.z_generator = torch.Generator(device=device).manual_seed(seed)

    # -- pieces of a step ---------------------------------------------------
    def _fixed_latents(self, n: int) -> Tensor | None:
        if not self.latent_dim:
            return None
        gen = torch.Generator().manual_seed(self.seed + 12345)
        return torch.randn(n, self.latent_dim, generator=gen).to(self.device)

    def _latents(self, n: int) -> Tensor | None:
        if not self.latent_dim:
            return None
        z = torch.randn(n * self.dist.world_size, self.latent_dim, device=self.device, generator=self.z_generator)
        return z[self.dist.rank * n : (self.dist.rank + 1) * n]

    def batch_indices(self, batch_number: int) -> Tensor:
        """Example indices of this process's part of the n-th global batch (a pure function of seed and n)."""
        return self.plan.indices(batch_number)

    def _batch(self, batch_number: int) -> Batch:
        return self.batches.get(batch_number)

    def _check_finite(self, loss: Tensor, net: nn.Module, scaler) -> bool:
        """True when the loss and (nonfinite_check=grads, unless a GradScaler handles overflow) the gradients
        are finite. Reading every gradient once more costs a few % of a small MLP GAN's step (docs/benchmarks.md)."""
        finite = torch.isfinite(loss.detach())
        if self.cfg.nonfinite_check == "grads" and not scaler.is_enabled():
            grads = [p.grad.detach() for p in net.parameters() if p.grad is not None]
            if grads:
                finite = finite & _all_finite(grads)
        return bool(finite)

    def _last_good_checkpoint(self) -> str:
        """Where a stopped run can be resumed from (nothing is written after a non-finite step)."""
        last = self.run_dir / "checkpoints" / "last.ckpt"
        return f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written yet"

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
                    f"non-finite {what} at step {self.step + 1}; {self._last_good_checkpoint()}; lower the "
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
            batch = self._batch(self.step * n_critic + i)
            z = self._latents(batch.real.shape[0])
            last = i == n_critic - 1
            with self.precision.autocast(), (contextlib.nullcontext() if last else torch.no_grad()):
                fake = self.G_train(z, batch.cond)
            with self.precision.autocast():
                d_loss, d_logs = self.loss.discriminator_loss(self.D_train, batch.real, fake.detach(), batch.cond)
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
                    f"{self._last_good_checkpoint()}; lower the learning rate or set trainer.grad_clip"
                )
        self.step += 1
        return logs

    # -- state ------------------------------------------------------------------
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for pictures and metrics: EMA weights when on."""
        return self.ema.model if self.ema is not None else self.G

    def state_dict(self) -> dict:
        """The run's state; under DDP every rank must call it (RNG states are gathered from all ranks)."""
        return {
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "schedulers": [s.state_dict() if s is not None else None for s in self.schedulers],
            "rng": capture_rng_state(),
            "rng_per_rank": distributed.gather_objects(capture_rng_state(), self.dist),
            "z_generator": self.z_generator.get_state(),
            "world_size": self.dist.world_size,
            "config": self.config_dict,
            "wandb_run_id": self.tracker.run_id,
            "best_metric": self.best_metric,
            "nonfinite_total": self.nonfinite_total,
            "nonfinite_in_a_row": self.nonfinite_in_a_row,
            "train_seconds": self.train_seconds,
            "max_steps": self.max_steps,  # the run length the LR schedules were built for
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            for key in ("scaler_g", "scaler_d", "rng", "step"):
                state[key]  # noqa: B018 - a checkpoint missing them cannot resume; fail before changing anything
            self.G.load_state_dict(state["generator"])
            self.D.load_state_dict(state["discriminator"])
            if self.ema is not None:
                if state.get("ema") is None:
                    raise UserError("the checkpoint has no EMA weights but trainer.ema_decay > 0; set it to 0")
                self.ema.load_state_dict(state["ema"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            for scheduler, saved in zip(self.schedulers, state.get("schedulers") or [None, None], strict=True):
                if scheduler is not None and saved is not None:
                    scheduler.load_state_dict(saved)
        except (RuntimeError, KeyError, ValueError) as err:
            lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()] or [repr(err)]
            detail = lines[1] if len(lines) > 1 else lines[0]  # torch's first line only names the class
            raise UserError(
                f"checkpoint does not fit this config ({detail}); resume with the config the run was started with"
            ) from err
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        per_rank = state.get("rng_per_rank") or [state["rng"]]
        if len(per_rank) == self.dist.world_size:
            restore_rng_state(per_rank[self.dist.rank])
        else:  # resuming with another number of processes: continue, but not bit-exactly
            restore_rng_state(per_rank[0])
        if "z_generator" in state:
            self.z_generator.set_state(state["z_generator"])
        self.step = int(state["step"])
        self.best_metric = state.get("best_metric")
        self.nonfinite_total = int(state.get("nonfinite_total", 0))
        self.nonfinite_in_a_row = int(state.get("nonfinite_in_a_row", 0))
        self.train_seconds = float(state.get("train_seconds", 0.0))

    def save(self, periodic: bool = True) -> Path:
        """Write last.ckpt (and a periodic step_*.ckpt); under DDP only rank 0 writes."""
        ckpt_dir = self.run_dir / "checkpoints"
        last = ckpt_dir / "last.ckpt"
        paths = [last]
        if periodic:
            paths.insert(0, ckpt_dir / f"step_{self.step:07d}.ckpt")
        if self.cfg.nonfinite_check == "loss":
            self._check_weights_finite()
        state = self.state_dict()
        if self.dist.is_main:
            remove_stale_temp_files(ckpt_dir)
            save_checkpoint(state, *paths)
            if periodic:
                self._prune_checkpoints(ckpt_dir)
        return last

    def _check_weights_finite(self) -> None:
        """With only losses checked per step, a NaN gradient under a finite loss reaches the weights
        unseen; never write such weights over the last good checkpoint."""
        tensors = [t.detach() for net in (self.G, self.D) for t in net.state_dict().values() if t.is_floating_point()]
        if not bool(_all_finite(tensors)):
            raise NonFiniteError(
                f"non-finite weights at step {self.step} (trainer.nonfinite_check=loss checks only the losses "
                f"every step); {self._last_good_checkpoint()}; set trainer.nonfinite_check=grads to stop at the step"
            )

    def _prune_checkpoints(self, ckpt_dir: Path) -> None:
        periodic = sorted(ckpt_dir.glob("step_*.ckpt"))
        for old in periodic[: max(0, len(periodic) - self.cfg.keep_last)]:
            old.unlink(missing_ok=True)

    # -- pictures and logs ----------------------------------------------------------
    def save_samples(self) -> Path | None:
        if not self.dist.is_main:
            return None
        G = self.sampling_generator
        with preserved_rng(), sampling_mode(G, self.cfg.sample_mode):
            with self.precision.autocast():
                fake = G(self.fixed_z, self.preview.cond)
        images = self.data.preview_images(fake.float(), self.preview)
        path = self.run_dir / "samples" / f"step_{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(images, path, nrow=self.data.preview_nrow(images.shape[0]), normalize=True, value_range=(-1, 1))
        self.tracker.log_image(self.step, "samples", path)
        return path

    def _evaluation_due(self) -> bool:
        return bool(self.evaluator and self.cfg.eval_every and self.step % self.cfg.eval_every == 0)

    def _maybe_evaluate(self, record: dict) -> None:
        """Add the evaluator's metrics (computed on rank 0) to record and keep best.ckpt by the one it
        monitors (lower is better unless evaluator.higher_is_better). Every rank calls this."""
        if not self._evaluation_due():
            return
        improved = False
        if self.dist.is_main:
            with preserved_rng():  # evaluation must not shift the training RNG streams
                metrics = self.evaluator(self)
            record.update(metrics)
            key = getattr(self.evaluator, "monitor", None)
            if key in metrics:
                value = float(metrics[key])
                sign = -1.0 if getattr(self.evaluator, "higher_is_better", False) else 1.0
                improved = self.best_metric is None or sign * value < sign * self.best_metric
                if improved:
                    self.best_metric = value
        if distributed.any_true(improved, self.dist, self.device):
            state = self.state_dict()  # collective under DDP
            if self.dist.is_main:
                save_checkpoint(state, self.run_dir / "checkpoints" / "best.ckpt")

    def _mean_over_ranks(self, sums: dict[str, float], count: int) -> dict[str, float]:
        if not self.dist.enabled:
            return {k: v / count for k, v in sums.items()}
        keys = sorted(sums)
        totals = torch.tensor([sums[k] for k in keys], dtype=torch.float64, device=self.device)
        distributed.all_reduce_(totals, self.dist)
        return {k: float(v) / (count * self.dist.world_size) for k, v in zip(keys, totals, strict=True)}

    # -- the loop ---------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        if self._stop_signal is not None:  # asked twice: stop now, without the checkpoint
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received twice")
        self._stop_signal = signum
        print(
            f"{signal.Signals(signum).name}: saving a checkpoint after this step (send it again to stop at once)",
            file=sys.stderr,
        )

    @contextlib.contextmanager
    def _signals_saved_at_step_boundary(self):
        handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: leave signals alone
                pass
        try:
            yield
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def fit(self) -> dict:
        """Train until max_steps (the first of trainer.max_steps / max_epochs); returns the last logged record."""
        from tqdm.auto import tqdm

        self.G.train()
        self.D.train()
        sums: dict[str, Tensor] = {}
        count = 0
        last_record: dict = {}
        t_last, step_last = time.perf_counter(), self.step
        show_bar = self.cfg.progress_bar and self.dist.is_main
        bar = tqdm(total=self.max_steps, initial=self.step, disable=not show_bar, desc="train", dynamic_ncols=True)
        with self._signals_saved_at_step_boundary():
            while self.step < self.max_steps:
                logs = self.train_step()
                for k, v in logs.items():
                    # Summed as tensors: no host sync per step on a GPU; read once per log_every.
                    v = torch.as_tensor(v).detach().double()
                    sums[k] = sums[k] + v if k in sums else v
                count += 1
                bar.update(1)
                if self.step % self.cfg.log_every == 0 or self.step == self.max_steps:
                    now = time.perf_counter()
                    self.train_seconds += now - t_last
                    images = (self.step - step_last) * self.batch_size * self.cfg.n_critic
                    record = {"step": self.step, "epoch": self.step * self.cfg.n_critic / self.batches_per_epoch}
                    record.update(self._mean_over_ranks({k: float(v) for k, v in sums.items()}, count))
                    record["img_per_s"] = images * self.dist.world_size / max(now - t_last, 1e-9)
                    record["data_wait"] = self.batches.take_wait_seconds() / max(now - t_last, 1e-9)  # this rank's
                    record["train_seconds"] = self.train_seconds
                    self._maybe_evaluate(record)
                    self.tracker.log(record)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k.endswith("loss")})
                    last_record = record
                    sums, count = {}, 0
                    t_last, step_last = time.perf_counter(), self.step
                elif self._evaluation_due():  # eval_every need not be a multiple of log_every
                    record = {"step": self.step, "epoch": self.step * self.cfg.n_critic / self.batches_per_epoch}
                    eval_start = time.perf_counter()
                    self._maybe_evaluate(record)
                    t_last += time.perf_counter() - eval_start  # keep evaluation out of img/s and train_seconds
                    self.tracker.log(record)
                if self.step % self.cfg.sample_every == 0:
                    self.save_samples()
                if self.step % self.cfg.checkpoint_every == 0:
                    self.save(periodic=True)
                if distributed.any_true(self._stop_signal is not None, self.dist, self.device):
                    self._stop_signal = self._stop_signal or signal.SIGTERM
                    path = self.save(periodic=False)
                    bar.close()
                    raise StopRequested(
                        f"stopped by {signal.Signals(self._stop_signal).name} at step {self.step}; checkpoint {path}; "
                        f"continue with the same overrides plus trainer.resume=auto hydra.run.dir={self.run_dir}",
                        self._stop_signal,
                    )
        bar.close()
        if self.step % self.cfg.sample_every != 0:
            self.save_samples()
        self.save(periodic=self.step % self.cfg.checkpoint_every != 0)
        return last_record
