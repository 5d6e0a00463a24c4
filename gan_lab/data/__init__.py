"""Data modules: in-memory uint8 image tensors normalised on the fly in batches."""

from gan_lab.data.base import Batch, ImageData

__all__ = ["Batch", "ImageData"]
