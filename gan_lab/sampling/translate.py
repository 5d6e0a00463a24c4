"""Translate a user's own source images (e.g. facade label maps) with a trained pix2pix generator.

    from gan_lab.sampling.translate import translate
    translate("run/checkpoints/last.ckpt", "my_label_maps/", "translated/", eval_mode="train")

Each input image is read as RGB, resized to the model's image size (PIL bicubic,
the training preprocessing without crop or flip), translated one at a time and
written as <out_dir>/<input stem>.png at the model's image size.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import save_image

from gan_lab.data.base import to_unit_range
from gan_lab.data.paired import read_rgb, resize_to_tensor
from gan_lab.errors import UserError
from gan_lab.loading import load_generator
from gan_lab.utils.images import IMAGE_EXTENSIONS, list_images
from gan_lab.utils.rng import sampling_mode, seeded_model_rng


def input_files(input_path: str | Path) -> list[Path]:
    path = Path(input_path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = list_images(path)
        if files:
            return files
        raise UserError(f"{path} holds no images ({', '.join(IMAGE_EXTENSIONS)}); pass an image or a folder")
    raise UserError(f"input {path} does not exist; pass an image file or a folder of images")


@torch.no_grad()
def translate(
    ckpt: str | Path,
    input_path: str | Path,
    out_dir: str | Path,
    eval_mode: str = "train",  # train: dropout + per-image batch statistics (the paper); eval: running statistics
    seed: int = 0,  # seeds the dropout draws in train mode
    use_ema: bool = True,
    device: str | torch.device = "cpu",
    trust: bool = False,  # trust_checkpoint: build classes outside gan_lab named by the checkpoint's config
) -> list[Path]:
    """Translate an image or every image of a folder; returns the written PNG paths."""
    if eval_mode not in ("train", "eval"):
        raise UserError(f"eval_mode must be train or eval, got {eval_mode!r}")
    generator, _, _ = load_generator(ckpt, use_ema=use_ema, device=device, trust=trust)
    if getattr(generator, "latent_dim", 0) or not hasattr(generator, "source_channels"):
        raise UserError(f"{ckpt} is not an image-to-image generator; translate needs a pix2pix checkpoint")
    size = generator.image_size
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with seeded_model_rng(seed), sampling_mode(generator, eval_mode):  # dropout draws in train mode
        for path in input_files(input_path):
            source = to_unit_range(resize_to_tensor(read_rgb(path), size)[None]).to(device)
            out = out_dir / f"{path.stem}.png"
            save_image(generator(None, source).float(), out, normalize=True, value_range=(-1, 1))
            written.append(out)
    return written
