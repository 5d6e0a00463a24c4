"""The cheap metric a run computes every trainer.eval_every steps (config group `eval_metric`).

The trainer calls the evaluator with itself; the returned dict is logged to
metrics.jsonl / W&B, and the value named by `evaluator.monitor` decides which
checkpoint is kept as best.ckpt. Each evaluation prints one line with its value and cost to stderr
(name=fid runs the feature network on the fast backend, `eval_metric.fidelity.backend`, see onnx_backend).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.errors import UserError
from gan_lab.evaluation.classifier import classifier_metrics, describe, load_or_train_classifier
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
            start = time.perf_counter()
            self._network = resolve_feature_network(
                f.feature_extractor, f.feature_extractor_weights_path, f.input_size, f.get("backend", "auto"),
                self.cache_dir, "cpu", f.get("onnx_graph_optimization", "all"),  # features run on the CPU
            )
            images = self.data.reference_images(self.cfg.reference)
            key = reference_key(self.data, self.cfg.reference, images)
            self._reference, hit = reference_features(
                lambda: images, key, self._network, self.cache_dir, f.batch_size
            )
            print(
                f"eval_metric=fid: {self._network.kind} features on {self._backend_text()}; reference "
                f"{self.cfg.reference} ({images.shape[0]} images) {'from the cache' if hit else 'computed'} in "
                f"{time.perf_counter() - start:.1f} s",
                file=sys.stderr,
            )

    def _backend_text(self) -> str:
        b = self._network.backend
        threads = f", {b['intra_op_threads']} threads" if b.get("intra_op_threads") else ""
        return f"{b['name']} {b['version']}{threads}"

    def __call__(self, trainer) -> dict[str, float]:
        from gan_lab.utils.rng import sampling_mode

        start = time.perf_counter()
        self._setup()
        t_setup = time.perf_counter()
        generator = trainer.sampling_generator
        with sampling_mode(generator, "eval"):
            images, labels = generate_samples(
                generator, self.cfg.num_samples, self.cfg.seed, device=trainer.device
            )
        t_sampled = time.perf_counter()
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
        end = time.perf_counter()
        out["eval/seconds"] = end - start
        judge = f" on {self._backend_text()}" if self._network is not None else f"; {describe(self._classifier[1])}"
        recal = getattr(trainer, "bn_recalibration", None)
        bn = f", BatchNorm statistics of {recal.batches} x {recal.batch_size} latents" if recal is not None else ""
        print(
            f"eval step {trainer.step}: {self.cfg.name} {out[self.monitor]:.4g} from {self.cfg.num_samples} "
            f"samples{bn} in {end - start:.1f} s (setup {t_setup - start:.1f} s, sampling {t_sampled - t_setup:.1f} s, "
            f"features and metric {end - t_sampled:.1f} s{judge})",
            file=sys.stderr,
        )
        return out


def build_evaluator(cfg: DictConfig, data, eval_every: int) -> TrainingEvaluator | None:
    """The run's evaluator, or None when trainer.eval_every is 0 or no metric is configured."""
    metrics_cfg = cfg.get("eval_metric")
    if not eval_every or metrics_cfg is None or metrics_cfg.get("name") in (None, "none"):
        return None
    return TrainingEvaluator(metrics_cfg, data, cfg.paths.cache_dir)
