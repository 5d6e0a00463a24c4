"""Config schemas (registered in Hydra's ConfigStore on import) and the checks Hydra cannot express."""

from gan_lab.config.schemas import register_configs
from gan_lab.config.validate import plain, validate, validate_optimizer, validate_seed, validate_trainer

register_configs()

__all__ = ["plain", "register_configs", "validate", "validate_optimizer", "validate_seed", "validate_trainer"]
