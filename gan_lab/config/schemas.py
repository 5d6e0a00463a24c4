"""The config schemas, registered in Hydra's ConfigStore as `schema/<name>`.

The YAML files extend them (Hydra's "structured config as schema" pattern), e.g. conf/trainer/default.yaml:

    defaults:
      - /schema/trainer@_here_
      - _self_

so Hydra itself rejects an unknown key, a wrong type or a value outside an Enum while composing. Every
default is written here once. Ranges, which Hydra cannot express, are field metadata read by
gan_lab.config.validate (the one place they are checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore


class Choice(str, Enum):
    """An Enum whose members are their own value as text, so `f"{choice}"` and `choice == "stop"` read
    as the string the user wrote."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def choice(name: str, *values: str) -> type[Choice]:
    """An Enum of the given strings, each member named and valued as written."""
    return Choice(name, [(value, value) for value in values], module=__name__)


Nonfinite = choice("Nonfinite", "stop", "skip")
NonfiniteCheck = choice("NonfiniteCheck", "grads", "loss")
NetworkMode = choice("NetworkMode", "eval", "train")  # BatchNorm / dropout mode of a generator while drawing
Strategy = choice("Strategy", "single", "ddp")
EmaBuffers = choice("EmaBuffers", "copy", "average")  # BatchNorm running statistics of the EMA generator
FeatureBackend = choice("FeatureBackend", "auto", "torch", "onnxruntime")  # engine of a TorchScript network
OnnxGraphOptimization = choice("OnnxGraphOptimization", "disable", "basic", "extended", "all")
CheckpointName = choice("CheckpointName", "last", "best")
Interpolation = choice("Interpolation", "slerp", "lerp")
InterpolateOver = choice("InterpolateOver", "z", "label")
Needs = choice("Needs", "checkpoint", "run")  # what a sample mode draws from


# -- ranges: field metadata, checked by gan_lab.config.validate.check_ranges ---------------------------------
POSITIVE_INT = ("must be a positive integer", lambda v: v > 0)
NON_NEGATIVE = ("must be >= 0", lambda v: v >= 0)
POSITIVE = ("must be positive", lambda v: v > 0)
POSITIVE_OR_NULL = ("must be positive or null", lambda v: v > 0)  # None is always allowed for Optional fields
AT_LEAST_2 = ("must be at least 2", lambda v: v >= 2)
FRACTION = ("must be in [0, 1)", lambda v: 0.0 <= v < 1.0)


def ranged(default, check: tuple) -> Any:
    return field(default=default, metadata={"range": check})


# -- train.py: conf/trainer/ -------------------------------------------------------------------------------
@dataclass
class BatchNormRecalibrationConfig:
    # trainer.bn_recalibration: the BatchNorm statistics of the sampling generator (EMA when on, else a copy of
    # G) recomputed on `batches` batches of fresh latents before grids, the in-training metric and each
    # checkpoint, which stores them for evaluate.py / sample.py. Not an ema_buffers choice: it serves G without
    # an EMA too, and it works on a copy, so G, the EMA and the training trajectory stay as they are
    # (gan_lab/training/batchnorm_recalibration.py).
    batches: int = ranged(0, NON_NEGATIVE)  # 0 = off; e.g. 20
    # null = trainer.batch_size: in train mode each BatchNorm normalises by its batch, so the statistics of
    # later layers depend on the batch size G was trained with
    batch_size: int | None = ranged(None, POSITIVE_OR_NULL)


@dataclass
class TrainerConfig:
    # Training stops at whichever of max_steps / max_epochs comes first (PyTorch Lightning's convention);
    # null removes that limit (not both).
    max_steps: int | None = ranged(2000, NON_NEGATIVE)  # generator updates, each after n_critic D updates
    max_epochs: float | None = ranged(None, POSITIVE)  # epochs of discriminator batches
    batch_size: int = ranged(128, POSITIVE_INT)
    n_critic: int = ranged(1, POSITIVE_INT)  # discriminator updates per generator update
    ema_decay: float = ranged(0.0, FRACTION)  # e.g. 0.999 keeps an EMA of G for samples and evaluation; 0 = off
    ema_warmup: bool = False  # true: decay min(ema_decay, (1 + step) / (10 + step)), for short runs (training/ema.py)
    # copy | average: BatchNorm running statistics of the EMA generator (average: EMA'd too, so they match the
    # averaged weights; copied ones cost classifier FID 389 vs 306, docs/benchmarks.md)
    ema_buffers: EmaBuffers = EmaBuffers.copy
    bn_recalibration: BatchNormRecalibrationConfig = field(default_factory=BatchNormRecalibrationConfig)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # auto | fp32 | bf16 | fp16 (CUDA only); auto = bf16 where the hardware has it, recorded resolved.
    # Checked by gan_lab.training.precision, which knows what the device supports.
    precision: str = "fp32"
    channels_last: bool = False
    num_threads: int = ranged(0, NON_NEGATIVE)  # torch CPU threads; 0 keeps torch's default
    log_every: int = ranged(50, POSITIVE_INT)
    sample_every: int = ranged(500, POSITIVE_INT)
    num_samples: int = ranged(64, POSITIVE_INT)  # images in each periodic grid
    sample_mode: NetworkMode = NetworkMode.eval  # mode of G when drawing grids
    checkpoint_every: int = ranged(1000, POSITIVE_INT)
    keep_last: int = ranged(3, NON_NEGATIVE)  # periodic checkpoints kept besides last.ckpt
    resume: str | None = None  # null | auto | <path/to/checkpoint.ckpt>
    eval_every: int = ranged(0, NON_NEGATIVE)  # run the `eval_metric` group's metric every N steps (0 = never)
    grad_clip: float | None = ranged(None, POSITIVE_OR_NULL)  # max grad norm for both networks
    nonfinite: Nonfinite = Nonfinite.stop  # non-finite loss/gradient: stop (keep the last good checkpoint) | skip
    # checked every step: grads (loss and gradients) | loss (cheaper; weights checked before each checkpoint
    # write, so a NaN gradient under a finite loss never reaches a file)
    nonfinite_check: NonfiniteCheck = NonfiniteCheck.grads
    max_nonfinite_skips: int = ranged(10, POSITIVE_INT)  # with skip: stop after this many non-finite steps in a row
    progress_bar: bool = True
    strategy: Strategy = Strategy.single  # single | ddp (torchrun --nproc_per_node=N train.py trainer.strategy=ddp)
    sync_batchnorm: bool = False  # ddp only: BatchNorm statistics over the global batch


def trainer_cross_checks(cfg) -> str | None:
    if cfg.max_steps is None and cfg.max_epochs is None:
        return (
            "trainer.max_steps and trainer.max_epochs are both null, so training would never stop; "
            "set one of them, e.g. trainer.max_steps=2000"
        )
    if cfg.bn_recalibration.batches and cfg.strategy == "ddp" and cfg.sync_batchnorm:
        # rank 0 alone recalibrates, and a SyncBatchNorm in train mode would wait for the other ranks
        return (
            "trainer.bn_recalibration needs plain BatchNorm; set trainer.sync_batchnorm=false or "
            "trainer.bn_recalibration.batches=0"
        )
    return None


# -- sample.py: conf/sample.yaml, and conf/mode/<mode>.yaml naming the function of each mode ---------------------
# The options of every mode sit side by side at the top level, so `--multirun mode=grid,interpolate n=9 pairs=2`
# works as before: a mode reads its own options and leaves the others.
@dataclass
class SampleConfig:
    ckpt: str | None = None  # checkpoint written by train.py (every mode but progress and curves)
    run: str | None = None  # a training run dir (progress, curves; ckpt modes then use <run>/checkpoints/last.ckpt)
    out: str | None = None  # main output file; null = <run>/samples/<mode>_seed<seed>.<ext> (plots/ for run modes)
    ext: str = "png"  # image format of default output names
    seed: int = ranged(0, NON_NEGATIVE)  # every random input comes from this seed: same command, same pictures
    ema: bool = True  # use EMA weights when the checkpoint has them
    # use the BatchNorm statistics the checkpoint recomputed for those weights, when it has them
    # (trainer.bn_recalibration); false = the ones training kept
    bn_recalibration: bool = True
    # true: also build code outside gan_lab that the checkpoint's config names; a file from someone else can
    # then run any code (README, SECURITY)
    trust_checkpoint: bool = False
    device: str = "auto"
    debug: bool = False  # true: show full tracebacks instead of one-line errors
    # set by conf/mode/<mode>.yaml: the function that draws (module.function) and what it draws from
    draw: str = "???"
    needs: Needs = Needs.checkpoint
    # grid
    n: int = ranged(64, POSITIVE_INT)  # number of images
    nrow: int | None = ranged(None, POSITIVE_INT)  # images per row; null = square-ish (a row per class)
    # per_class: a row per class, the same z down each column
    columns: int = ranged(8, POSITIVE_INT)
    # interpolate: a strip per pair (<out>_pair<i>.png), all strips (<out>), an animated GIF (<out>.gif)
    pairs: int = ranged(4, POSITIVE_INT)
    steps: int = ranged(10, AT_LEAST_2)  # images per strip, both end points included; also the GIF's frames
    method: Interpolation = Interpolation.slerp
    over: InterpolateOver = InterpolateOver.z  # z: walk the latent, label fixed | label: walk the label embedding
    label: int | None = ranged(None, NON_NEGATIVE)  # over=z, conditional: the class held fixed; null = i % K
    labels: list[int] | None = None  # over=label: [from, to], e.g. [3,8]; null = class i % K -> (i + 1) % K
    frame_ms: int = ranged(150, POSITIVE_INT)  # GIF frame duration (interpolate, progress)
    # progress: rows = saved grids (<run>/samples/step_*.png) in step order
    k: int = ranged(8, NON_NEGATIVE)  # images per row (the first k of each grid); 0 = the whole grids stacked
    # curves
    smoothing: float = ranged(0.9, FRACTION)  # exponential moving average weight of the smoothed line
    # style_mixing (StyleGAN): row 0 = sources_a images A; per row group, sources_b rows: column 0 = a source
    # B, cell = B's w at the group's style layers, A's at the others
    sources_a: int = ranged(5, POSITIVE_INT)
    sources_b: int = ranged(3, POSITIVE_INT)  # B images per row group
    # [start, stop) ranges of style layers taken from B, one row group each, e.g. [[0,4],[4,6],[6,8]];
    # null = coarse / middle / fine (the resolutions split in three)
    mix_layers: list[list[int]] | None = None
    # noise_resampling (StyleGAN): `rows` w's, each with `resamples` noise draws and the per-pixel standard
    # deviation over `std_samples` draws
    rows: int = ranged(4, POSITIVE_INT)
    resamples: int = ranged(4, POSITIVE_INT)
    std_samples: int = ranged(100, AT_LEAST_2)
    # both StyleGAN modes: the noise maps come from noise_seed (null = seed), times noise_strength (0 = none)
    noise_seed: int | None = ranged(None, NON_NEGATIVE)
    noise_strength: float = ranged(1.0, NON_NEGATIVE)
    # translate (image-to-image models)
    input: str | None = None  # an image file or folder of source images
    # train: dropout and per-image batch statistics at test time (pix2pix paper) | eval
    eval_mode: NetworkMode = NetworkMode.train


# -- evaluate.py: conf/evaluate.yaml ---------------------------------------------------------------------------
@dataclass
class EvaluatePaths:
    data_dir: str | None = "${oc.env:GAN_LAB_DATA,null}"  # null = the dataset root stored in the checkpoint
    cache_dir: str = "${oc.env:GAN_LAB_CACHE,.cache/gan_lab}"  # reference features, classifiers


@dataclass
class FidelityConfig:
    # auto: torchscript when the weights file is a TorchScript archive, else torch-fidelity's inception-v3-compat
    feature_extractor: str = "auto"
    # torch-fidelity's weights-inception-2015-12-05-6726825d.pth, or a TorchScript FID Inception (2048-d pool
    # features, e.g. fid_inception_2015-12-05_torchscript.pt). null = torch-fidelity downloads its weights.
    feature_extractor_weights_path: str | None = "${oc.env:GAN_LAB_FID_WEIGHTS,null}"
    input_size: int = ranged(299, POSITIVE_INT)  # resize before a TorchScript network (the FID Inception: 299)
    # engine of a TorchScript network: auto = onnxruntime on CPU when onnx + onnxruntime are installed
    # (pip install 'gan_lab[fast-fid]'), else torch. Same features within 1e-4; the ONNX file is exported once
    # to paths.cache_dir/onnx. Recorded in every result's protocol (feature_backend).
    backend: FeatureBackend = FeatureBackend.auto
    onnx_graph_optimization: OnnxGraphOptimization = OnnxGraphOptimization.all  # ONNX Runtime's optimisation level
    batch_size: int = ranged(50, POSITIVE_INT)
    kid_subsets: int = ranged(100, POSITIVE_INT)
    kid_subset_size: int = ranged(1000, POSITIVE_INT)
    prc_neighborhood: int = ranged(3, POSITIVE_INT)


@dataclass
class ClassifierConfig:  # trained once per dataset and cached under paths.cache_dir/classifiers
    # null = the dataset's recipe (gan_lab/evaluation/classifier_nets.py): grey 2 epochs, width 32 (MNIST);
    # RGB 15 epochs, width 32, VGG-style with augmentation (CIFAR-10). A number replaces the recipe's.
    epochs: int | None = ranged(None, POSITIVE_INT)
    width: int | None = ranged(None, POSITIVE_INT)
    min_share: float = ranged(0.1, NON_NEGATIVE)  # a class is "covered" at >= min_share of its uniform share


@dataclass
class ParzenConfig:  # Goodfellow et al. 2014 protocol
    validation: int = ranged(10000, POSITIVE_INT)  # sigma is chosen on the last N images of the training split
    sigmas: list[float] | None = None  # null = logspace(-1, 0, 10), the GAN paper's grid
    batch_size: int = ranged(500, POSITIVE_INT)


@dataclass
class EvaluateConfig:
    ckpt: str | None = None  # checkpoint written by train.py; the model and dataset are rebuilt from it
    sweep: str | None = None  # or a multirun dir: evaluate <job>/checkpoints/<checkpoint>.ckpt of every finished job
    checkpoint: CheckpointName = CheckpointName.last  # with sweep: best.ckpt exists when runs had eval_every > 0
    force: bool = False  # evaluate again even when eval/<name>.json already holds a result with the same request
    # any of: fid kid isc prc (torch-fidelity features) classifier parzen; checked by gan_lab.evaluation.run
    metrics: list[str] = field(default_factory=lambda: ["fid", "kid", "prc"])
    num_samples: int = ranged(10000, AT_LEAST_2)  # generated images (FID below 2048 is flagged as biased)
    reference: str = "test"  # split of the run's dataset to compare against
    reference_size: int | None = ranged(None, AT_LEAST_2)  # null = the whole split; N = its first N images
    seed: int = ranged(0, NON_NEGATIVE)  # seed of the latents (and of KID subsets / IS splits)
    ema: bool = True  # use EMA weights when the checkpoint has them
    # use the BatchNorm statistics the checkpoint recomputed for those weights, when it has them
    # (trainer.bn_recalibration); false = the ones training kept
    bn_recalibration: bool = True
    # true: also build code outside gan_lab that the checkpoint's config names; a file from someone else can
    # then run any code (README, SECURITY)
    trust_checkpoint: bool = False
    device: str = "auto"
    num_threads: int = ranged(0, NON_NEGATIVE)  # torch CPU threads (and ONNX Runtime's intra-op ones); 0 = default
    batch_size: int = ranged(250, POSITIVE_INT)  # generator batch when sampling
    name: str | None = None  # JSON name under <run dir>/eval/; null = <ckpt stem>-<reference>-n<num_samples>
    debug: bool = False
    paths: EvaluatePaths = field(default_factory=EvaluatePaths)
    fidelity: FidelityConfig = field(default_factory=FidelityConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    parzen: ParzenConfig = field(default_factory=ParzenConfig)


# -- evaluate_paired.py: conf/evaluate_paired.yaml ------------------------------------------------------------
@dataclass
class PairedFidelityConfig(FidelityConfig):
    # null = each split's own size, at most 1000 (facades: 400 train, 100 val; KID is unbiased at any subset size,
    # gan_lab/evaluation/paired_fidelity.py); N (2..the smallest split) for every split
    kid_subset_size: int | None = ranged(None, AT_LEAST_2)


@dataclass
class EvaluatePairedConfig:
    ckpt: str = "???"  # a pix2pix checkpoint
    split: Any = field(default_factory=lambda: ["train", "val"])  # a split (split=val) or a list (split=[train,val])
    # train: dropout on and BatchNorm on batch statistics (the paper's test-time setting) | eval
    eval_mode: NetworkMode = NetworkMode.train
    batch_size: int = ranged(1, POSITIVE_INT)  # 1 = per-image statistics, as in the paper
    limit: int | None = ranged(None, POSITIVE_INT)  # the first N pairs of each split; null = all
    seed: int = ranged(0, NON_NEGATIVE)  # dropout draws in train mode
    data_dir: str | None = None  # the run's data dir (paths.data_dir) moved since training: where it is now
    out: str | None = None  # null = <run dir>/eval/paired_<ckpt stem>_<splits>_<eval_mode>.json
    ema: bool = True
    device: str = "cpu"
    debug: bool = False
    # of G(source) against the split's real targets, beside L1 / PSNR / SSIM (always computed): any of fid kid prc;
    # [] skips them (no feature network needed)
    metrics: list[str] = field(default_factory=lambda: ["fid", "kid"])
    fidelity: PairedFidelityConfig = field(default_factory=PairedFidelityConfig)  # as evaluate.py's fidelity.*
    cache_dir: str = "${oc.env:GAN_LAB_CACHE,.cache/gan_lab}"  # reference features of each split's targets
    grid_rows: int = ranged(8, NON_NEGATIVE)  # first N pairs per split, rows of source | translated | target; 0 = none


CROSS_CHECKS = {TrainerConfig: trainer_cross_checks}


def register_configs() -> None:
    """Store every schema under the `schema` group (idempotent: storing again replaces the entry)."""
    store = ConfigStore.instance()
    store.store(group="schema", name="trainer", node=TrainerConfig)
    store.store(group="schema", name="evaluate", node=EvaluateConfig)
    store.store(group="schema", name="evaluate_paired", node=EvaluatePairedConfig)
    store.store(group="schema", name="sample", node=SampleConfig)
