"""A training run from a composed config: build, (resume), fit, finish."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gan_lab.build import build_data, build_loss, build_models, build_optimizers, check_compatible
from gan_lab.config import validate_optimizer, validate_trainer
from gan_lab.errors import UserError
from gan_lab.sweeps import current_job, wandb_settings
from gan_lab.tracking import Tracker, truncate_metrics
from gan_lab.training import distributed
from gan_lab.training.checkpoint import load_checkpoint, seed_everything
from gan_lab.training.precision import resolve_device
from gan_lab.training.schedules import build_scheduler_factories
from gan_lab.training.trainer import StopRequested, Trainer


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """trainer.resume: None (fresh run), auto (this run dir's last.ckpt if any) or a path."""
    if resume in (None, "", "none", "null"):
        return None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.ckpt"
        return last if last.exists() else None
    path = Path(resume)
    if not path.is_file():
        raise UserError(f"trainer.resume={resume}: no such checkpoint; use auto or the path of a .ckpt file")
    return path


def refuse_to_overwrite(run_dir: Path, overwrite: bool) -> None:
    ckpts = list((run_dir / "checkpoints").glob("*.ckpt"))
    if ckpts and not overwrite:
        raise UserError(
            f"{run_dir} already holds checkpoints; continue it with trainer.resume=auto, "
            f"start over with overwrite=true, or choose another hydra.run.dir"
        )


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
    if trainer_cfg.num_threads:
        torch.set_num_threads(trainer_cfg.num_threads)
    ctx, device = distributed.init_distributed(trainer_cfg.strategy, resolve_device(trainer_cfg.device))
    try:
        return _train(cfg, trainer_cfg, shared_run_dir(Path(run_dir), ctx), ctx, device)
    finally:
        distributed.shutdown()


def _train(cfg: DictConfig, trainer_cfg: DictConfig, run_dir: Path, ctx, device: torch.device) -> dict:
    resume_path = resolve_resume(trainer_cfg.resume, run_dir)
    if resume_path is None and ctx.is_main:
        refuse_to_overwrite(run_dir, bool(cfg.get("overwrite", False)))
    seed_everything(int(cfg.seed) + ctx.rank)  # per-rank streams (dropout, augmentation); z is global

    data = build_data(cfg).setup()
    generator, discriminator = build_models(cfg)
    check_compatible(data, generator, discriminator)
    loss = build_loss(cfg)
    opt_g, opt_d = build_optimizers(cfg, generator, discriminator)

    state = load_checkpoint(resume_path) if resume_path else None
    config_dict = OmegaConf.to_container(cfg, resolve=True)
    config_dict["trainer"] = OmegaConf.to_container(trainer_cfg, resolve=True)
    config_dict["trainer"]["world_size"] = ctx.world_size  # global batch = batch_size x world_size
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
            int(cfg.seed), config_dict, dist_ctx=ctx, scheduler_factories=build_scheduler_factories(cfg),
        )
        if state is not None:
            trainer.load_state_dict(state)
            if ctx.is_main:
                truncate_metrics(tracker.metrics_path, trainer.step)
                print(f"resumed from {resume_path} at step {trainer.step}", file=sys.stderr)
        if ctx.is_main:
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
            record = {"stopped_at": trainer.step}
        if ctx.is_main:
            write_final_pictures(trainer, tracker)
    finally:
        tracker.finish()
    return record
