"""A training run from a composed config: check inputs, build, (resume), fit, finish.

The job layer (gan_lab/jobs/train.py) adds what is not training (W&B sweep settings, Hydra's files,
end-of-run pictures) through JobSettings, so this module imports nothing above training/.
Everything that can reject the run (config values, run dir, checkpoint, data,
model/data fit) is checked before anything is written to the run dir, so a
refused run leaves an existing run dir byte-identical.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gan_lab.build import build_data, build_loss, build_models, build_optimizers, check_compatible
from gan_lab.config import validate_optimizer, validate_seed, validate_trainer
from gan_lab.errors import UserError
from gan_lab.evaluation.in_training import build_evaluator
from gan_lab.safe_config import check_stored_config, targets_in
from gan_lab.tracking import Tracker, truncate_metrics
from gan_lab.training import distributed
from gan_lab.training.callbacks import (
    Callback,
    Checkpointing,
    InTrainingEvaluation,
    MetricsLog,
    ProgressBar,
    SampleGrids,
    SignalStop,
    StopRequested,
)
from gan_lab.training.checkpoint import load_checkpoint, seed_everything
from gan_lab.training.precision import resolve_device, resolve_precision
from gan_lab.training.schedules import build_scheduler_factories
from gan_lab.training.trainer import RunContext, Trainer, TrainingParts
from gan_lab.utils.dicts import flatten

# Config keys that may change between a run and its resume without changing the trajectory.
RESUME_FREE_KEYS = (
    "trainer.resume", "trainer.max_steps", "trainer.max_epochs", "trainer.progress_bar", "trainer.log_every",
    "trainer.sample_every", "trainer.checkpoint_every", "trainer.keep_last", "trainer.num_samples",
    "trainer.eval_every", "trainer.num_threads", "overwrite", "debug", "paths", "logger", "dataset.root",
    "trust_checkpoint",
    "trainer.bn_recalibration",  # only the sampling copy's statistics (pictures, metrics, checkpoint entry)
    "dataset.storage", "dataset.num_workers", "dataset.cache_dir",  # same batches whichever path builds them
)


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """trainer.resume: None (fresh run), auto (this run dir's last.ckpt if any) or a path."""
    if resume in (None, "", "none", "null"):
        return None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.ckpt"
        if last.exists():
            return last
        periodic = sorted((run_dir / "checkpoints").glob("step_*.ckpt"))
        return periodic[-1] if periodic else None
    path = Path(resume)
    if not path.is_file():
        raise UserError(f"trainer.resume={resume}: no such checkpoint; use auto or the path of a .ckpt file")
    return path


def earlier_results(run_dir: Path) -> list[Path]:
    """What an earlier run left in run_dir that a fresh start would overwrite."""
    found = sorted((run_dir / "checkpoints").glob("*.ckpt"))
    found += [p for p in (run_dir / "metrics.jsonl",) if p.exists()]
    return found


def refuse_to_overwrite(run_dir: Path, overwrite: bool, resume_path: Path | None = None) -> None:
    """A fresh start (or a resume from another run's checkpoint) must not write over an earlier run."""
    if overwrite:
        return
    own_checkpoint = resume_path is not None and resume_path.resolve().parent == (run_dir / "checkpoints").resolve()
    if own_checkpoint:
        return
    earlier = earlier_results(run_dir)
    if not earlier:
        return
    what = "checkpoints" if any(p.suffix == ".ckpt" for p in earlier) else "metrics.jsonl of an earlier run"
    raise UserError(
        f"{run_dir} already holds {what}; continue it with trainer.resume=auto, "
        f"start over with overwrite=true, or choose another hydra.run.dir"
    )


def clear_earlier_run(run_dir: Path) -> None:
    """overwrite=true: remove the checkpoints, metrics and sample grids of the earlier run, so they are not
    mixed with the new one (pruning keeps the highest step numbers, which would be the old ones)."""
    removed = earlier_results(run_dir) + sorted((run_dir / "samples").glob("step_*.png"))
    for path in removed:
        path.unlink()
    if removed:
        print(f"overwrite=true: removed {len(removed)} files of the earlier run in {run_dir}", file=sys.stderr)


def check_resume_config(saved: dict, current: dict, ckpt: Path, warn: bool = True) -> None:
    """A checkpoint of another model is refused (naming the keys); other changed settings get a warning,
    since the resumed run will then not continue the interrupted one exactly."""
    old, new = flatten(saved), flatten(current)
    changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    model = [k for k in changed if k.startswith("model.")]
    if model:
        diffs = ", ".join(f"{k}: {old[k]!r} in the checkpoint, {new[k]!r} now" for k in model[:3])
        raise UserError(
            f"checkpoint {ckpt} was written by a different model ({diffs}); resume with the config the run "
            f"was started with, or start a new run"
        )
    free = tuple(RESUME_FREE_KEYS)
    other = [k for k in changed if not any(k == f or k.startswith(f + ".") for f in free)]
    if other and warn:
        diffs = ", ".join(f"{k}: {old[k]!r} -> {new[k]!r}" for k in other[:5])
        print(f"warning: resuming with settings that differ from the checkpoint ({diffs})", file=sys.stderr)


def schedule_uses_run_length(cfg: DictConfig) -> bool:
    """Whether a configured LR schedule takes total_steps (so it depends on max_steps / max_epochs)."""
    import inspect

    for factory in build_scheduler_factories(cfg):
        try:
            if factory is not None and "total_steps" in inspect.signature(factory).parameters:
                return True
        except (TypeError, ValueError):  # builtins without a signature
            continue
    return False


def warn_if_schedule_length_changed(state: dict, trainer: Trainer, cfg: DictConfig) -> None:
    """A length-dependent LR schedule is rebuilt for the new run length on resume: say so in one line."""
    old_steps = state.get("max_steps")
    if old_steps is None or int(old_steps) == trainer.max_steps or not schedule_uses_run_length(cfg):
        return
    print(
        f"warning: the run length changed on resume ({old_steps} -> {trainer.max_steps} steps, "
        f"{trainer.step_limit}); the learning-rate schedule follows the {trainer.max_steps}-step schedule "
        f"from step {trainer.step} on, so its rate jumps to that schedule's value (docs/reliability.md)",
        file=sys.stderr,
    )


def shared_run_dir(run_dir: Path, ctx: distributed.DistContext) -> Path:
    """Under DDP every rank writes into rank 0's run dir (Hydra may have stamped another second)."""
    main_dir = Path(distributed.broadcast_object(str(run_dir), ctx))
    if main_dir != run_dir and run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)
    return main_dir


@dataclass
class JobSettings:
    """What the job layer adds to a training run."""

    logger: dict | None = None  # the tracker's W&B settings (used on rank 0)
    overrides: dict = field(default_factory=dict)  # the command-line overrides, tracked with the config
    callbacks: tuple[Callback, ...] = ()  # called after the built-in ones, e.g. end-of-run pictures


def build_parts(cfg: DictConfig) -> TrainingParts:
    """Data, networks (checked against the data), objective, optimisers and LR schedules from the config."""
    data = build_data(cfg).setup()
    generator, discriminator = build_models(cfg)
    check_compatible(data, generator, discriminator)
    loss = build_loss(cfg)
    loss.check_discriminator(discriminator)
    opt_g, opt_d = build_optimizers(cfg, generator, discriminator)
    return TrainingParts(generator, discriminator, loss, opt_g, opt_d, data, build_scheduler_factories(cfg))


def build_callbacks(trainer_cfg: DictConfig, evaluator=None) -> list[Callback]:
    """The trainer's callbacks from the trainer config, in the order they run after each step: evaluation
    first (its metrics join the step's record), the record, then grids, checkpoints, the signal check."""
    callbacks: list[Callback] = []
    if evaluator is not None and trainer_cfg.eval_every:
        callbacks.append(InTrainingEvaluation(evaluator, trainer_cfg.eval_every))
    callbacks.append(MetricsLog(trainer_cfg.log_every))
    if trainer_cfg.progress_bar:
        callbacks.append(ProgressBar())
    callbacks += [
        SampleGrids(trainer_cfg.sample_every, trainer_cfg.num_samples, trainer_cfg.sample_mode),
        Checkpointing(trainer_cfg.checkpoint_every, trainer_cfg.keep_last),
        SignalStop(),
    ]
    return callbacks


def train(cfg: DictConfig, run_dir: str | Path, job: JobSettings | None = None) -> dict:
    trainer_cfg = validate_trainer(cfg.trainer)
    validate_optimizer(cfg.optimizer)
    validate_seed(cfg.seed)
    if trainer_cfg.num_threads:
        torch.set_num_threads(trainer_cfg.num_threads)
    ctx, device = distributed.init_distributed(trainer_cfg.strategy, resolve_device(trainer_cfg.device))
    try:
        return _train(cfg, trainer_cfg, shared_run_dir(Path(run_dir), ctx), ctx, device, job or JobSettings())
    finally:
        distributed.shutdown()


def _train(cfg: DictConfig, trainer_cfg: DictConfig, run_dir: Path, ctx, device, job: JobSettings) -> dict:
    seed = int(cfg.seed)
    overwrite = bool(cfg.get("overwrite", False))
    resume_path = resolve_resume(trainer_cfg.resume, run_dir)
    if ctx.is_main:
        # resume=auto with no checkpoint starts the run over (e.g. it was killed before its first checkpoint).
        refuse_to_overwrite(run_dir, overwrite or trainer_cfg.resume == "auto", resume_path)
    # precision=auto becomes the precision actually used, so the run config (and every metric) records it.
    trainer_cfg.precision = resolve_precision(trainer_cfg.precision, device)
    config_dict = OmegaConf.to_container(cfg, resolve=True)
    config_dict["trainer"] = OmegaConf.to_container(trainer_cfg, resolve=True)
    config_dict["trainer"]["world_size"] = ctx.world_size  # global batch = batch_size x world_size
    state = load_checkpoint(resume_path) if resume_path else None
    if state is not None:
        # The stored config is only compared, never built; still refuse one that names code outside gan_lab
        # (and not in the user's own config): it is not a checkpoint this code wrote.
        check_stored_config(
            state.get("config") or {}, resume_path, bool(cfg.get("trust_checkpoint")), targets_in(config_dict)
        )
        check_resume_config(state.get("config") or {}, config_dict, resume_path, warn=ctx.is_main)
    seed_everything(seed + ctx.rank)  # per-rank streams (dropout, augmentation); z is global

    parts = build_parts(cfg)
    wandb_id = state.get("wandb_run_id") if state else None
    tracked_config = {**config_dict, "overrides": job.overrides}
    logger_cfg = job.logger if ctx.is_main else None
    tracker = Tracker(run_dir, logger_cfg, tracked_config, run_id=wandb_id, enabled=ctx.is_main)
    try:
        evaluator = build_evaluator(cfg, parts.data, trainer_cfg.eval_every)  # called on rank 0 only
        trainer = Trainer(
            trainer_cfg, parts, RunContext(run_dir, tracker, device, seed, config_dict, ctx),
            callbacks=[*build_callbacks(trainer_cfg, evaluator), *job.callbacks],
        )
        if state is not None:
            trainer.load_state_dict(state)
        if ctx.is_main:
            # All checks passed: from here on the run dir is written to.
            if state is None and overwrite:
                clear_earlier_run(run_dir)
            (run_dir / "result.json").unlink(missing_ok=True)  # an earlier attempt's; this one is not finished
            truncate_metrics(tracker.metrics_path, trainer.step)  # records after the checkpoint are logged again
            if state is not None:
                print(f"resumed from {resume_path} at step {trainer.step}", file=sys.stderr)
                warn_if_schedule_length_changed(state, trainer, cfg)
            world = f" x {ctx.world_size} processes" if ctx.enabled else ""
            print(
                f"run dir {run_dir} | data {parts.data.describe()}, {len(parts.data)} images | device {device} | "
                f"precision {trainer_cfg.precision} | {trainer.max_steps} steps ({trainer.step_limit}) of batch "
                f"{trainer_cfg.batch_size}{world}",
                file=sys.stderr,
            )
        try:
            record = trainer.fit()
        except StopRequested as stop:  # a pre-empted job has seconds left: on_fit_end (pictures) is skipped
            if ctx.is_main:
                print(str(stop), file=sys.stderr)
            record = {"stopped_at": trainer.step, "stopped_by_signal": stop.signum}
    finally:
        tracker.finish()
    return record
