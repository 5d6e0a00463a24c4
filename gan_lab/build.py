"""Turn a resolved config into objects with hydra.utils.instantiate, with clear errors."""

from __future__ import annotations

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gan_lab.data.base import ImageData
from gan_lab.errors import UserError
from gan_lab.models.blocks import apply_spectral_norm
from gan_lab.safe_config import check_before_instantiate


def _instantiate(node: DictConfig, what: str, **kwargs):
    check_before_instantiate(node, what)  # a config read from a checkpoint builds only gan_lab's own things
    try:
        return instantiate(node, **kwargs)
    except UserError:
        raise
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        detail = str(cause) if cause is not None else str(err).splitlines()[0]
        raise UserError(f"cannot build {what}: {detail.strip().splitlines()[0]}") from err


def build_data(cfg: DictConfig) -> ImageData:
    return _instantiate(cfg.dataset, "dataset")


def build_models(cfg: DictConfig) -> tuple[nn.Module, nn.Module]:
    generator = _instantiate(cfg.model.generator, "model.generator")
    return generator, build_discriminator(cfg)


def build_discriminator(cfg: DictConfig) -> nn.Module:
    """model.discriminator, with spectral normalisation on every layer when its `spectral_norm` key is true
    (a key of the group, not of the class, so every discriminator family has it)."""
    node = OmegaConf.to_container(cfg.model.discriminator, resolve=True)
    use_sn = node.pop("spectral_norm", False)
    discriminator = _instantiate(OmegaConf.create(node), "model.discriminator")
    if not isinstance(use_sn, bool):
        raise UserError(f"model.discriminator.spectral_norm must be true or false, got {use_sn!r}")
    return apply_spectral_norm(discriminator) if use_sn else discriminator


def build_generator(cfg: DictConfig) -> nn.Module:
    return _instantiate(cfg.model.generator, "model.generator")


def build_loss(cfg: DictConfig):
    return _instantiate(cfg.loss, "loss")


def build_optimizers(cfg: DictConfig, generator: nn.Module, discriminator: nn.Module):
    make_g = _instantiate(cfg.optimizer.generator, "optimizer.generator")
    make_d = _instantiate(cfg.optimizer.discriminator, "optimizer.discriminator")
    return make_g(generator.parameters()), make_d(discriminator.parameters())


CONDITIONS = {"none": "no condition", "labels": "class labels", "image": "a source image"}
TAKES = {"labels": "is class-conditional", "image": "translates a source image"}
FIX = {
    "labels": "use a labelled dataset (class sub-folders for image_folder) or an unconditional model",
    "image": "use a paired dataset (dataset=facades, experiment=pix2pix_facades) or another model (model=dcgan)",
}


def condition_taken(net: nn.Module) -> str:
    """What a network needs as `cond`: its declared `condition`, else labels when it has classes."""
    declared = getattr(net, "condition", None)
    if declared is not None:
        return declared
    return "labels" if (getattr(net, "num_classes", 0) or 0) else "none"


def check_compatible(data: ImageData, generator: nn.Module, discriminator: nn.Module) -> None:
    """Catch data/model mismatches at start, not as a shape error deep inside a conv."""
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        takes, gives = condition_taken(net), data.condition
        if takes != "none" and takes != gives:  # a network that takes none ignores what the data gives
            raise UserError(
                f"model.{name} ({type(net).__name__}) {TAKES[takes]} but dataset {data.name} gives "
                f"{CONDITIONS[gives]}; {FIX[takes]}"
            )
        channels = getattr(net, "channels", None)
        if channels is not None and channels != data.channels:
            raise UserError(
                f"model.{name} expects {channels}-channel images but dataset {data.name} has {data.channels}; "
                f"set model.{name}.channels={data.channels} or pick a matching dataset"
            )
        size = getattr(net, "image_size", None)
        if size is not None and size != data.image_size:
            raise UserError(
                f"model.{name} is built for {size}x{size} images but the dataset gives "
                f"{data.image_size}x{data.image_size}; set dataset.image_size={size}"
            )
        classes = getattr(net, "num_classes", 0) or 0
        if classes and data.num_classes and classes != data.num_classes:
            raise UserError(
                f"model.{name} has {classes} classes but dataset {data.name} has {data.num_classes}; "
                f"set model.{name}.num_classes={data.num_classes}"
            )
