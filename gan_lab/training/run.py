"""A training run from a composed config: check inputs, build, (resume), fit, finish.

Everything that can reject the run (config values, run dir, checkpoint, data,
model/data fit) is checked before anything is written to the run dir, so a
refused run leaves an existing run dir byte-identical.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gan_lab.build import build_data, build_loss, build_models, build_optimizers, check_compatible
from gan_lab.config import validate_optimizer, validate_seed, validate_trainer
from gan_lab.errors import UserError
from gan_lab.evaluation.in_training import build_evaluator
from gan_lab.sweeps import current_job, wandb_settings
from gan_lab.tracking import Tracker, truncate_metrics
from gan_lab.training import distributed
from gan_lab.training.checkpoint import load_checkpoint, seed_everything
from gan_lab.training.precision import resolve_device, resolve_precision
from gan_lab.training.schedules import build_scheduler_factories
from gan_lab.training.trainer import StopRequested, Trainer

# Config keys that may change between a run and its resume without changing the trajectory.
RESUME_FREE_KEYS = (
    "trainer.resume", "trainer.max_steps", "trainer.max_epochs", "trainer.progress_bar", "trainer.log_every",
    "trainer.sample_every", "trainer.checkpoint_every", "trainer.keep_last", "trainer.num_samples",
    "trainer.eval_every", "trainer.num_threads", "overwrite", "debug", "paths", "logger", "dataset.root",
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


def _flatten(node, prefix: str = "") -> dict:
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    flat = {}
    for key, value in node.items():
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat


def check_resume_config(saved: dict, current: dict, ckpt: Path, warn: bool = True) -> None:
    """A checkpoint of another model is refused (naming the keys); other changed settings get a warning,
    since the resumed run will then not continue the interrupted one exactly."""
    old, new = _flatten(saved), _flatten(current)
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


def write_final_pictures(trainer: Trainer, tracker: Tracker) -> None:
    """Loss curves and an interpolation GIF in the run dir (and W&B). A failure here is reported, not
    raised: the weights are already saved and must not be lost to a plotting problem."""
    from gan_lab.sampling import end_of_training_pictures

    try:
        for path in end_of_training_pictures(trainer, tracker):
            print(f"wrote {path}", file=sys.stderr)
    except Exception as err:
        print(f"warning: could not draw the end-of-run pictures: {type(err).__name__}: {err}", file=sys.stderr)


def shared_run_dir(run_dir: Path, ctx: distributed.DistContext) -> Path:
    """Under DDP every rank writes into rank 0's run dir (Hydra may have stamped another second)."""
    main_dir = Path(distributed.broadcast_object(str(run_dir), ctx))
    if main_dir != run_dir and run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "train.log"}:
        shutil.rmtree(run_dir, ignore_errors=True)
    return main_dir


def train(cfg: DictConfig, run_dir: str | Path) -> dict:
    trainer_cfg = validate_trainer(cfg.trainer)
    validate_optimizer(cfg.optimizer)
    validate_seed(cfg.seed)
    if trainer_cfg.num_threads:
        torch.set_num_threads(trainer_cfg.num_threads)
    ctx, device = distributed.init_distributed(trainer_cfg.strategy, resolve_device(trainer_cfg.device))
    try:
        return _train(cfg, trainer_cfg, shared_run_dir(Path(run_dir), ctx), ctx, device)
    finally:
        distributed.shutdown()


def _train(cfg: DictConfig, trainer_cfg: DictConfig, run_dir: Path, ctx, device: torch.device) -> dict:
    from gan_lab.jobs.hydra_job import save_hydra_files

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
        check_resume_config(state.get("config") or {}, config_dict, resume_path, warn=ctx.is_main)
    seed_everything(seed + ctx.rank)  # per-rank streams (dropout, augmentation); z is global

    data = build_data(cfg).setup()
    generator, discriminator = build_models(cfg)
    check_compatible(data, generator, discriminator)
    loss = build_loss(cfg)
    opt_g, opt_d = build_optimizers(cfg, generator, discriminator)

    wandb_id = state.get("wandb_run_id") if state else None
    # Sweep jobs share a W&B group named after the sweep and carry their overrides as config.
    job = current_job(cfg)
    logger_cfg = None
    if ctx.is_main and cfg.get("logger"):
        logger_cfg = wandb_settings(OmegaConf.to_container(cfg.logger, resolve=True), job, str(cfg.get("name", "run")))
    tracked_config = {**config_dict, "overrides": job.overrides}
    tracker = Tracker(run_dir, logger_cfg, tracked_config, run_id=wandb_id, enabled=ctx.is_main)
    try:
        trainer = Trainer(
            trainer_cfg, generator, discriminator, loss, opt_g, opt_d, data, run_dir, tracker, device,
            seed, config_dict, dist_ctx=ctx, scheduler_factories=build_scheduler_factories(cfg),
            evaluator=build_evaluator(cfg, data, trainer_cfg.eval_every),  # called on rank 0 only
        )
        if state is not None:
            trainer.load_state_dict(state)
        if ctx.is_main:
            # All checks passed: from here on the run dir is written to.
            if state is None and overwrite:
                clear_earlier_run(run_dir)
            truncate_metrics(tracker.metrics_path, trainer.step)  # records after the checkpoint are logged again
            save_hydra_files(cfg, run_dir)
            if state is not None:
                print(f"resumed from {resume_path} at step {trainer.step}", file=sys.stderr)
            world = f" x {ctx.world_size} processes" if ctx.enabled else ""
            print(
                f"run dir {run_dir} | data {data.describe()}, {len(data)} images | device {device} | "
                f"precision {trainer_cfg.precision} | {trainer.max_steps} steps of batch "
                f"{trainer_cfg.batch_size}{world}",
                file=sys.stderr,
            )
        try:
            record = trainer.fit()
        except StopRequested as stop:
            if ctx.is_main:
                print(str(stop), file=sys.stderr)
            record = {"stopped_at": trainer.step, "stopped_by_signal": stop.signum}
        if ctx.is_main and "stopped_at" not in record:  # a pre-empted job has seconds left: exit promptly
            write_final_pictures(trainer, tracker)
    finally:
        tracker.finish()
    return record
