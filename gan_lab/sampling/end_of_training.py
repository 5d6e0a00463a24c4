"""The pictures of a finished training run (loss curves, an interpolation GIF), mirrored to W&B.

Called by gan_lab.training.run: an import from the training layer into the sampling layer, which phase 2 of
issue 19 replaces by an end-of-run callback.
"""

from __future__ import annotations

from pathlib import Path

from gan_lab.sampling.draw import interpolate_latents
from gan_lab.sampling.files import write_interpolation
from gan_lab.utils.rng import sampling_mode


def end_of_training_pictures(trainer, tracker) -> list[Path]:
    """Loss curves (always) and an interpolation GIF (models with a latent z) for a finished run, mirrored
    to W&B. Cheap: one plot and pairs x steps generator images."""
    from gan_lab.plots import plot_metrics

    written = []
    run_dir = Path(trainer.run_dir)
    if tracker.metrics_path.exists():
        curves = plot_metrics(tracker.metrics_path, run_dir / "plots" / "curves.png")
        tracker.log_file("loss_curves", curves)
        written.append(curves)
    G = trainer.sampling_generator
    if getattr(G, "latent_dim", 0):
        with sampling_mode(G, trainer.cfg.sample_mode):
            strips = interpolate_latents(G, pairs=4, steps=8, method="slerp", seed=trainer.seed, device=trainer.device)
        paths = write_interpolation(
            strips, run_dir / "samples" / "interpolation.png", frame_ms=150, per_pair=False
        )
        tracker.log_file("interpolation", paths[-1])
        written += [paths[0], paths[-1]]
    return written
