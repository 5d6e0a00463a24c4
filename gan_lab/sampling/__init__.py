"""Pictures from a trained generator and from a run's history, one module per job:

- draw: the latent maths (grids, per-class grids, interpolation through z or the label embedding)
- files: grids, strips and GIFs on disk
- progress: a run's saved grids as one sheet and a GIF
- translate: image-to-image translation of a user's own images (pix2pix)
- stylegan_grids: StyleGAN's style-mixing and noise-resampling figures
- modes: sample.py's modes, one function each, selected by the config group conf/mode/
- end_of_training: the pictures of a finished run (called by training.run; a callback in phase 2)
"""

from gan_lab.sampling.draw import (
    interpolate,
    interpolate_labels,
    interpolate_latents,
    latents,
    sample_grid,
    sample_per_class,
)
from gan_lab.sampling.end_of_training import end_of_training_pictures
from gan_lab.sampling.files import save_gif, save_grid, write_interpolation
from gan_lab.sampling.modes import run_sample
from gan_lab.sampling.progress import progress_gif, progress_sheet

__all__ = [
    "end_of_training_pictures", "interpolate", "interpolate_labels", "interpolate_latents", "latents",
    "progress_gif", "progress_sheet", "run_sample", "sample_grid", "sample_per_class", "save_gif", "save_grid",
    "write_interpolation",
]
