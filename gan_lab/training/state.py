"""A run's state: what a checkpoint holds, how it is restored, and how it is written.

The state is (step, weights, optimizers, RNG) plus what travels with the run
(config, W&B id, best metric, non-finite counters); restoring it continues a
run bit-exactly. Under DDP every rank takes part (RNG states are gathered).
"""

from __future__ import annotations

from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.training import distributed
from gan_lab.training.checkpoint import capture_rng_state, remove_stale_temp_files, restore_rng_state, save_checkpoint
from gan_lab.training.nonfinite import check_weights_finite


def trainer_state(trainer) -> dict:
    """The run's state; under DDP every rank must call it (RNG states are gathered from all ranks)."""
    return {
        "step": trainer.step,
        "generator": trainer.G.state_dict(),
        "discriminator": trainer.D.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
        # trainer.bn_recalibration: BatchNorm statistics recomputed for the sampling weights, which evaluate.py
        # and sample.py use; a resume ignores them (G and the EMA continue from their own). Rank 0 writes.
        "bn_recalibration": trainer.bn_recalibration_entry() if trainer.dist.is_main else None,
        "opt_g": trainer.opt_g.state_dict(),
        "opt_d": trainer.opt_d.state_dict(),
        "scaler_g": trainer.scaler_g.state_dict(),
        "scaler_d": trainer.scaler_d.state_dict(),
        "schedulers": [s.state_dict() if s is not None else None for s in trainer.schedulers],
        "rng": capture_rng_state(),
        "rng_per_rank": distributed.gather_objects(capture_rng_state(), trainer.dist),
        "z_generator": trainer.z_generator.get_state(),
        "world_size": trainer.dist.world_size,
        "config": trainer.run.config,
        "wandb_run_id": trainer.tracker.run_id,
        "best_metric": trainer.best_metric,
        "nonfinite_total": trainer.nonfinite_total,
        "nonfinite_in_a_row": trainer.nonfinite_in_a_row,
        "train_seconds": trainer.train_seconds,
        "max_steps": trainer.max_steps,  # the run length the LR schedules were built for
    }


def load_trainer_state(trainer, state: dict) -> None:
    """Restore trainer_state(); a checkpoint that does not fit the built models is one UserError."""
    try:
        for key in ("scaler_g", "scaler_d", "rng", "step"):
            state[key]  # noqa: B018 - a checkpoint missing them cannot resume; fail before changing anything
        trainer.G.load_state_dict(state["generator"])
        trainer.D.load_state_dict(state["discriminator"])
        if trainer.ema is not None:
            if state.get("ema") is None:
                raise UserError("the checkpoint has no EMA weights but trainer.ema_decay > 0; set it to 0")
            trainer.ema.load_state_dict(state["ema"])
        trainer.opt_g.load_state_dict(state["opt_g"])
        trainer.opt_d.load_state_dict(state["opt_d"])
        for scheduler, saved in zip(trainer.schedulers, state.get("schedulers") or [None, None], strict=True):
            if scheduler is not None and saved is not None:
                scheduler.load_state_dict(saved)
    except (RuntimeError, KeyError, ValueError) as err:
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()] or [repr(err)]
        detail = lines[1] if len(lines) > 1 else lines[0]  # torch's first line only names the class
        raise UserError(
            f"checkpoint does not fit this config ({detail}); resume with the config the run was started with"
        ) from err
    trainer.scaler_g.load_state_dict(state["scaler_g"])
    trainer.scaler_d.load_state_dict(state["scaler_d"])
    per_rank = state.get("rng_per_rank") or [state["rng"]]
    if len(per_rank) == trainer.dist.world_size:
        restore_rng_state(per_rank[trainer.dist.rank])
    else:  # resuming with another number of processes: continue, but not bit-exactly
        restore_rng_state(per_rank[0])
    if "z_generator" in state:
        trainer.z_generator.set_state(state["z_generator"])
    trainer.step = int(state["step"])
    trainer.best_metric = state.get("best_metric")
    trainer.nonfinite_total = int(state.get("nonfinite_total", 0))
    trainer.nonfinite_in_a_row = int(state.get("nonfinite_in_a_row", 0))
    trainer.train_seconds = float(state.get("train_seconds", 0.0))


def write_state(trainer, *names: str, check_weights: bool = True) -> Path:
    """Write the state to run_dir/checkpoints/<name> for each name (one serialisation); returns the last path.
    Every rank calls it (the state is collective under DDP); only rank 0 writes. With
    trainer.nonfinite_check=loss the weights are checked first, so no NaN reaches a file unseen."""
    ckpt_dir = trainer.run_dir / "checkpoints"
    paths = [ckpt_dir / name for name in names]
    if check_weights and trainer.cfg.nonfinite_check == "loss":
        check_weights_finite((trainer.G, trainer.D), trainer.step, trainer.run_dir)
    state = trainer_state(trainer)
    if trainer.dist.is_main:
        remove_stale_temp_files(ckpt_dir)
        save_checkpoint(state, *paths)
    return paths[-1]
