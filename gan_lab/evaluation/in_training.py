"""The cheap metric a run computes every trainer.eval_every steps (config group `eval_metric`).

The trainer calls the evaluator with itself; the returned dict is logged to
metrics.jsonl / W&B, and the value named by `evaluator.monitor` decides which
checkpoint is kept as best.ckpt.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.errors import UserError
from gan_lab.evaluation.classifier import classifier_metrics, load_or_train_classifier
from gan_lab.evaluation.common import generate_samples
from gan_lab.evaluation.fidelity import fidelity_metrics, reference_features, reference_key, resolve_feature_network

IN_TRAINING_METRICS = ("classifier_fid", "fid")


class TrainingEvaluator:
    """callable(trainer) -> {"eval/<metric>": value, ...}; lower `monitor` is better."""

    higher_is_better = False

    def __init__(self, cfg: DictConfig, data, cache_dir: str | Path):
        if cfg.name not in IN_TRAINING_METRICS:
            raise UserError(f"eval_metric.name must be one of {', '.join(IN_TRAINING_METRICS)}, got {cfg.name!r}")
        self.cfg = cfg
        self.data = data
        self.cache_dir = Path(cache_dir)
        self.monitor = f"eval/{cfg.name}"
        self._classifier = None
        self._network = None
        self._reference = None

    def _setup(self) -> None:
        """Train / load the classifier or register the feature network and cache the reference, once."""
        if self.cfg.name == "classifier_fid" and self._classifier is None:
            self._classifier = load_or_train_classifier(
                self.data, self.cache_dir, epochs=self.cfg.classifier.epochs, width=self.cfg.classifier.width
            )
        if self.cfg.name == "fid" and self._network is None:
            f = self.cfg.fidelity
            self._network = resolve_feature_network(f.feature_extractor, f.feature_extractor_weights_path, f.input_size)
            images = self.data.reference_images(self.cfg.reference)
            key = reference_key(self.data, self.cfg.reference, images)
            self._reference, _ = reference_features(lambda: images, key, self._network, self.cache_dir, f.batch_size)

    def __call__(self, trainer) -> dict[str, float]:
        from gan_lab.utils.rng import sampling_mode

        start = time.perf_counter()
        self._setup()
        generator = trainer.sampling_generator
        with sampling_mode(generator, "eval"):
            images, labels = generate_samples(
                generator, self.cfg.num_samples, self.cfg.seed, device=trainer.device
            )
        if self.cfg.name == "classifier_fid":
            model, info = self._classifier
            results = classifier_metrics(images, labels, model, info, self.data, self.cfg.reference, self.cache_dir)
            out = {"eval/classifier_fid": results["classifier_fid"]["value"]}
            out["eval/classes_covered"] = results["mode_coverage"]["classes_covered"]
            if "class_accuracy" in results:
                out["eval/class_accuracy"] = results["class_accuracy"]["value"]
        else:
            results = fidelity_metrics(images, self._reference, ["fid"], self._network, self.cfg.fidelity.batch_size)
            out = {"eval/fid": results["fid"]["value"]}
        out["eval/seconds"] = time.perf_counter() - start
        return out


def build_evaluator(cfg: DictConfig, data, eval_every: int) -> TrainingEvaluator | None:
    """The run's evaluator, or None when trainer.eval_every is 0 or no metric is configured."""
    metrics_cfg = cfg.get("eval_metric")
    if not eval_every or metrics_cfg is None or metrics_cfg.get("name") in (None, "none"):
        return None
    return TrainingEvaluator(metrics_cfg, data, cfg.paths.cache_dir)
