"""Bad input: one clear line (exit code 2 on the command line), and an existing run dir left byte-identical.

Each case runs against a copy of a finished tiny run (checkpoints, samples, metrics.jsonl, .hydra/), through
the same two gates as train.py: the command-line pre-check (gan_lab.jobs.command_line) and run.train. Most
cases run in-process; a few go through the real CLI for the exit code and the one-line output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from gan_lab.errors import UserError
from gan_lab.jobs.command_line import check_overrides
from gan_lab.jobs.train import train, validate_training_config
from tests.conftest import CONF_DIR, REPO, TINY, compose, needs_mnist
from tests.fakes import snapshot

# No EMA (the default recipe keeps one): the "checkpoint without EMA" case needs an earlier run without it.
SYNTHETIC = ["dataset=synthetic", "dataset.size=64", *TINY, "trainer.max_steps=2", "trainer.ema_decay=0.0"]
REAL_CONDITIONAL = ["model=cgan_dcgan", "model.generator.base_width=8", "model.discriminator.base_width=8"]
MNIST = ["dataset=mnist", *TINY, "trainer.max_steps=2"]
NO_LATENT = [o for o in SYNTHETIC if not o.startswith("model.generator.latent_dim")]  # for model=pix2pix
CONDITIONAL = [
    "model.generator._target_=tests.fakes.ConditionalGenerator",
    "model.discriminator._target_=tests.fakes.ConditionalDiscriminator",
]


@dataclass
class Case:
    name: str
    overrides: list[str]
    message: str  # regex the one-line message must match from its start
    fresh: bool = True  # add overwrite=true, so the error is not masked by the run-dir check
    prepare: object = None  # callable(run_dir, tmp_path) -> extra overrides
    env: dict = field(default_factory=dict)
    base: list = field(default_factory=lambda: list(SYNTHETIC))  # the run's overrides before the bad one


def corrupt_file(run_dir: Path, tmp_path: Path) -> list[str]:
    bad = tmp_path / "random.ckpt"
    bad.write_bytes(os.urandom(4096))
    return [f"trainer.resume={bad}"]


def truncated_last(run_dir: Path, tmp_path: Path) -> list[str]:
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    return ["trainer.resume=auto"]


def foreign_checkpoint(run_dir: Path, tmp_path: Path) -> list[str]:
    other = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    return [f"trainer.resume={other}"]


def metrics_only(run_dir: Path, tmp_path: Path) -> list[str]:
    shutil.rmtree(run_dir / "checkpoints")
    return []


def other_runs_checkpoint(run_dir: Path, tmp_path: Path) -> list[str]:
    other = tmp_path / "other_run"
    shutil.copytree(run_dir, other)
    return [f"trainer.resume={other / 'checkpoints' / 'last.ckpt'}"]


def empty_data_dir(run_dir: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "empty_data").mkdir()
    return []


def unreachable_mirror(run_dir: Path, tmp_path: Path) -> list[str]:
    return [f"dataset.root={tmp_path / 'download_here'}"]


CASES = [
    # -- the command line (Hydra would print several lines and exit 1 before our code runs)
    Case("unknown group option", ["model=dcgann"], r"unknown model 'dcgann'; choose one of: (\w+, )*dcgan(, \w+)*$"),
    Case("unknown experiment", ["experiment=dcgan_mnst"], r"unknown experiment 'dcgan_mnst'; choose one of: "),
    Case("unknown key", ["trainer.max_step=3"], r"unknown key trainer.max_step; did you mean trainer.max_steps\?"),
    Case("misspelt group in key", ["traner.max_steps=3"], r"unknown key traner.max_steps; did you mean trainer\."),
    Case("delete missing key", ["~trainer.foo"], r"cannot delete trainer.foo: no such key"),
    Case("delete a schema key", ["~trainer.eval_every"], r"cannot delete trainer.eval_every: its schema"),
    Case("add existing key", ["+seed=3"], r"seed already exists: set it with seed="),
    Case("override without =", ["trainer.max_steps"], r"cannot parse override 'trainer.max_steps'"),
    Case("sweep without --multirun", ["seed=0,1"], r"seed=0,1: a comma-separated value needs --multirun"),
    # -- wrong types and out-of-range values
    Case("wrong type", ["trainer.batch_size=abc"], r"trainer.batch_size: Value 'abc' of type 'str' could not be"),
    Case("negative lr", ["optimizer.lr=-1e-4"], r"optimizer.generator.lr must be a positive number, got -0.0001"),
    Case("batch size 0", ["trainer.batch_size=0"], r"trainer.batch_size must be a positive integer, got 0"),
    Case("n_critic 0", ["trainer.n_critic=0"], r"trainer.n_critic must be a positive integer, got 0"),
    Case("negative max_steps", ["trainer.max_steps=-1"], r"trainer.max_steps must be >= 0, got -1"),
    Case("ema decay 1.5", ["trainer.ema_decay=1.5"], r"trainer.ema_decay must be in \[0, 1\), got 1.5"),
    Case("unknown nonfinite policy", ["trainer.nonfinite=ignore"], r"trainer.nonfinite must be one of stop, skip"),
    Case("seed not an integer", ["seed=abc"], r"seed must be a non-negative integer, got 'abc'"),
    Case("unknown precision", ["trainer.precision=fp8"], r"unknown trainer.precision 'fp8'"),
    Case("unknown device", ["trainer.device=tpu"], r"unknown trainer.device 'tpu'"),
    Case(
        "batch larger than data",
        ["trainer.batch_size=100"],
        r"the global batch \(100\) is larger than the dataset \(64 examples\)",
    ),
    Case("label smoothing out of range", ["loss.real_label=1.5"], r"loss.real_label must be in \(0, 1\], got 1.5"),
    Case("unknown norm", ["model.discriminator.norm=spectrall"], r"unknown norm 'spectrall'"),
    # -- models that do not fit the data
    Case("image size the model cannot make", ["dataset.image_size=48"], r"DCGANGenerator cannot produce 48x48 images"),
    Case("channel mismatch", ["model.generator.channels=3"], r"model.generator expects 3-channel images but dataset"),
    Case("image size mismatch", ["model.discriminator.image_size=64"], r"model.discriminator is built for 64x64"),
    Case(
        "class count mismatch",
        [*CONDITIONAL, "+model.generator.num_classes=5", "+model.discriminator.num_classes=5"],
        r"model.generator has 5 classes but dataset synthetic has 10",
    ),
    Case(
        "conditional model, unlabelled data",
        [*CONDITIONAL, "dataset.num_classes=0"],
        r"model.generator \(ConditionalGenerator\) is class-conditional but dataset synthetic gives no condition; "
        r"use a labelled dataset",
    ),
    Case(
        "image-to-image generator on labelled data",
        ["model=pix2pix"],
        r"model.generator \(UNetGenerator\) translates a source image but dataset synthetic gives class labels; "
        r"use a paired dataset",
        base=NO_LATENT,
    ),
    Case(
        "WGAN-GP with a BatchNorm critic",
        ["loss=wgan_gp"],
        r"loss=wgan_gp needs a critic without BatchNorm .*; set model.discriminator.norm=layer, or "
        r"loss.allow_batchnorm_critic=true",
    ),
    Case(
        "no step limit",
        ["trainer.max_steps=null", "trainer.max_epochs=null"],
        r"trainer.max_steps and trainer.max_epochs are both null, so training would never stop; set one",
    ),
    Case(
        "cgan_dcgan with a class count mismatch",
        [*REAL_CONDITIONAL, "model.generator.num_classes=5", "model.discriminator.num_classes=5"],
        r"model.generator has 5 classes but dataset synthetic has 10; set model.generator.num_classes=10",
    ),
    Case(
        "cgan_dcgan on unlabelled data",
        [*REAL_CONDITIONAL, "dataset.num_classes=0"],
        r"a class-conditional generator needs num_classes > 0",
    ),
    # -- data that is not there
    Case(
        "missing data, download off",
        ["dataset.download=false"],
        r"MNIST not found under .*empty_data.* and dataset.download=false",
        prepare=empty_data_dir,
        env={"GAN_LAB_DATA": "{tmp}/empty_data"},
        base=MNIST,
    ),
    Case(
        "missing data, download unreachable",
        [],
        r"MNIST not found under .* could not be downloaded",
        prepare=unreachable_mirror,
        base=MNIST,
    ),
    # -- checkpoints
    Case("resume from a missing file", ["trainer.resume=/nonexistent/last.ckpt"], r"trainer.resume=/nonexistent/"),
    Case(
        "corrupt checkpoint", [], r"checkpoint .*random.ckpt is unreadable \(truncated or corrupt", prepare=corrupt_file
    ),
    Case("truncated checkpoint", [], r"checkpoint .*last.ckpt is unreadable", fresh=False, prepare=truncated_last),
    Case("not a gan_lab checkpoint", [], r".*weights.pt is not a gan_lab checkpoint", prepare=foreign_checkpoint),
    Case(
        "checkpoint of another model",
        ["trainer.resume=auto", "model.generator.base_width=16"],
        r"checkpoint .*last.ckpt was written by a different model \(model.generator.base_width: 8 in the checkpoint,"
        r" 16 now\)",
        fresh=False,
    ),
    Case(
        "checkpoint without EMA",
        ["trainer.resume=auto", "trainer.ema_decay=0.9"],
        r"the checkpoint has no EMA weights but trainer.ema_decay > 0",
        fresh=False,
    ),
    # -- the run dir of an earlier run
    Case(
        "run dir with checkpoints",
        [],
        r".* already holds checkpoints; continue it with trainer.resume=auto",
        fresh=False,
    ),
    Case(
        "run dir with metrics only",
        [],
        r".* already holds metrics.jsonl of an earlier run",
        fresh=False,
        prepare=metrics_only,
    ),
    Case(
        "another run's checkpoint into this run dir",
        [],
        r".* already holds checkpoints",
        fresh=False,
        prepare=other_runs_checkpoint,
    ),
]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory) -> Path:
    """A finished tiny run, as a user would have it: checkpoints, samples, metrics.jsonl and .hydra/."""
    run_dir = tmp_path_factory.mktemp("earlier") / "run"
    train(compose(SYNTHETIC), run_dir)
    (run_dir / "result.json").write_text('{"status": "finished"}\n')  # as train.py marks a finished run
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "config.yaml").write_text("# the config the earlier run was started with\n")
    return run_dir


def start_from(earlier_run: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(earlier_run, run_dir)
    return run_dir


def train_as_cli_does(overrides: list[str], run_dir: Path) -> None:
    check_overrides(CONF_DIR, "config", overrides, validate=validate_training_config)
    train(compose(overrides), run_dir)


def test_the_table_is_big_enough():
    assert len(CASES) >= 20 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_line_and_changes_nothing(case, earlier_run, tmp_path, monkeypatch):
    run_dir = start_from(earlier_run, tmp_path)
    extra = case.prepare(run_dir, tmp_path) if case.prepare else []
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    if case.name == "missing data, download unreachable":
        import torchvision

        from gan_lab.data import torchvision_sets

        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://10.255.255.1/mnist/"])
        monkeypatch.setattr(torchvision_sets, "DOWNLOAD_TIMEOUT_S", 1.0)
    before = snapshot(run_dir)
    overrides = [*case.base, *case.overrides, *extra, *(["overwrite=true"] if case.fresh else [])]
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        train_as_cli_does(overrides, run_dir)
    message = str(err.value)
    assert "\n" not in message, message
    assert re.match(case.message, message), message
    assert time.perf_counter() - start < 60, "a bad input must fail fast, not hang"
    assert snapshot(run_dir) == before, "a refused run changed the run dir"


def test_valid_command_lines_pass_the_check():
    check_overrides(
        CONF_DIR, "config", ["+extra_tag=1", "~objective.direction", "hydra.run.dir=x", "hydra/launcher=joblib"]
    )
    check_overrides(CONF_DIR, "config", ["seed=0,1", "model=dcgan", "optimizer.lr=interval(1e-4,1e-3)"], multirun=True)
    with pytest.raises(UserError, match=r"unknown model 'dcgann'"):
        check_overrides(CONF_DIR, "config", ["model=dcgan,dcgann"], multirun=True)


def test_overwrite_true_starts_over_cleanly(earlier_run, tmp_path):
    run_dir = start_from(earlier_run, tmp_path)
    (run_dir / "checkpoints" / "step_0000900.ckpt").write_bytes(b"from a longer earlier run")
    train(compose([*SYNTHETIC, "overwrite=true"]), run_dir)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.ckpt", "step_0000002.ckpt"]
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 1


# -- through the real command line: exit code 2, exactly one line on stderr, nothing changed -----------------
CLI_CASES = [
    (["model=dcgann"], "error: unknown model 'dcgann'; choose one of: "),
    (["trainer.max_step=3"], "error: unknown key trainer.max_step; did you mean trainer.max_steps?"),
    (["trainer.n_critic=0"], "error: trainer.n_critic must be a positive integer, got 0"),
    (["--multirun", "seed=0,1", "model=dcgan,dcgann"], "error: unknown model 'dcgann'; choose one of: "),
    ([], "error: {run} already holds checkpoints; continue it with trainer.resume=auto"),
    (["trainer.resume=auto", "model.generator.base_width=16"], "error: checkpoint {run}/checkpoints/last.ckpt was"),
]


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("args, first_words", CLI_CASES, ids=[" ".join(a) or "existing run dir" for a, _ in CLI_CASES])
def test_cli_reports_one_line_and_exit_code_2(args, first_words, earlier_run, tmp_path):
    run_dir = start_from(earlier_run, tmp_path)
    before = snapshot(run_dir)
    flags = [a for a in args if a.startswith("--")]  # Hydra's parser wants flags before overrides
    overrides = [a for a in args if not a.startswith("--")]
    result = run_cli(
        [*flags, *SYNTHETIC, *overrides, f"hydra.run.dir={run_dir}", f"hydra.sweep.dir={run_dir}"], tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(first_words.format(run=run_dir)), result.stderr
    assert snapshot(run_dir) == before


@needs_mnist
def test_pix2pix_on_mnist_is_refused_in_one_line_by_the_cli(tmp_path):
    """The issue's example: the U-Net was handed class labels as its source image and crashed in a conv."""
    run_dir = tmp_path / "run"
    overrides = [o for o in MNIST if not o.startswith("model.generator.latent_dim")]
    result = run_cli(["model=pix2pix", *overrides, "dataset.limit=64", f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: model.generator (UNetGenerator) translates a source image but dataset "
                                    "MNIST gives class labels; use a paired dataset (dataset=facades"), result.stderr
    assert not run_dir.exists() or not any(run_dir.iterdir())


def test_debug_true_shows_the_traceback(tmp_path):
    result = run_cli([*SYNTHETIC, "trainer.n_critic=0", "debug=true", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "trainer.n_critic must be a positive integer" in result.stderr


def test_sample_py_checks_its_command_line_too(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "sample.py"), "ckpt=x.ckpt", "nn=16"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == "error: unknown key nn; did you mean n? (to add a new key write +nn=...)\n"
