"""gan_lab: Hydra-configured GANs in PyTorch."""

__version__ = "0.1.0"
