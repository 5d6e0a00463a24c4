"""gan_lab: Hydra-configured GANs in PyTorch."""

# The config schemas go into Hydra's ConfigStore before anything composes conf/ (the YAML files extend them).
import gan_lab.config  # noqa: F401

__version__ = "0.1.0"
