"""A checkpoint or cache file from someone else must not run code (issue 22), and caches are keyed by the
bytes of the images they were computed from (issue 15, fix 6).

Each malicious checkpoint carries a payload that creates a marker file when it runs; the tests show the
payload is real (it runs when the file is trusted) and that sample, evaluate and train --resume refuse it
with one line and exit code 2, leaving the marker absent and every file as it was.
"""

from __future__ import annotations

import contextlib
import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.build import build_generator
from gan_lab.errors import UserError
from gan_lab.evaluation.classifier import load_or_train_classifier
from gan_lab.evaluation.common import cached
from gan_lab.evaluation.fidelity import reference_features, reference_key, resolve_feature_network
from gan_lab.evaluation.run import evaluate_checkpoint
from gan_lab.loading import load_generator
from gan_lab.safe_config import check_stored_config, load_stored_config, target_allowed, targets_in
from gan_lab.sampling import run_sample
from gan_lab.training.checkpoint import load_checkpoint, save_checkpoint
from gan_lab.training.run import train
from tests.conftest import CONF_DIR, REPO, TINY, compose
from tests.evaluation_helpers import save_tiny_torchscript

BASE = ["dataset=synthetic", "dataset.size=32", "dataset.image_size=8", *(o for o in TINY if "max_steps" not in o)]
SYNTHETIC = [*BASE, "trainer.max_steps=2"]
PAYLOADS = ("outside_gan_lab", "nested", "torch_load_beside", "numpy_allow_pickle")


class CreatesFile:
    """Unpickling this calls open(path, "w"): the file appearing proves the pickle's code ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> Path:
    """A checkpoint written by gan_lab itself (2 steps of a tiny DCGAN on synthetic squares)."""
    root = tmp_path_factory.mktemp("genuine")
    train(compose(SYNTHETIC), root / "run")
    return root / "run" / "checkpoints" / "last.ckpt"


def malicious_checkpoint(genuine: Path, root: Path, payload: str) -> tuple[Path, Path, str]:
    """(checkpoint, marker file its payload creates, the refused target) in root/<payload>/."""
    run = root / payload
    marker = root / f"{payload}.marker"
    state = load_checkpoint(genuine)
    config = copy.deepcopy(state["config"])
    copy_marker = {"_target_": "shutil.copyfile", "src": str(genuine), "dst": str(marker)}
    if payload == "outside_gan_lab":
        config["model"]["generator"] = copy_marker
        target = "shutil.copyfile"
    elif payload == "nested":  # a gan_lab generator whose argument is built first, by hydra's recursion
        config["model"]["generator"]["latent_dim"] = copy_marker
        target = "shutil.copyfile"
    elif payload == "torch_load_beside":
        (run / "extra").mkdir(parents=True)
        torch.save(CreatesFile(marker), run / "extra" / "weights.pt")
        config["model"]["generator"] = {
            "_target_": "torch.load", "_args_": [str(run / "extra" / "weights.pt")], "weights_only": False,
        }
        target = "torch.load"
    elif payload == "numpy_allow_pickle":
        (run / "extra").mkdir(parents=True)
        np.save(run / "extra" / "features.npy", np.array([CreatesFile(marker)], dtype=object), allow_pickle=True)
        config["model"]["generator"] = {
            "_target_": "numpy.load", "_args_": [str(run / "extra" / "features.npy")], "allow_pickle": True,
        }
        target = "numpy.load"
    else:
        raise ValueError(payload)
    ckpt = run / "checkpoints" / "last.ckpt"
    save_checkpoint({k: v for k, v in state.items() if k != "format"} | {"config": config}, ckpt)
    return ckpt, marker, target


def sample_cfg(ckpt: Path, *overrides: str):
    return compose([f"ckpt={ckpt}", "n=4", *overrides], config_name="sample")


def evaluate_cfg(ckpt: Path, cache: Path, *overrides: str):
    return compose([f"ckpt={ckpt}", "num_samples=8", f"paths.cache_dir={cache}", *overrides], config_name="evaluate")


# -- the payloads are real ---------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_runs_when_the_file_is_trusted(genuine, tmp_path, payload):
    """Without this, a refusal test could pass because the payload never worked."""
    ckpt, marker, _ = malicious_checkpoint(genuine, tmp_path, payload)
    with contextlib.suppress(Exception):  # what the payload returns is no generator
        load_generator(ckpt, trust=True)
    assert marker.exists()


# -- refused, in process (every payload x every command) ----------------------------------------------------
@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("command", ["sample", "evaluate", "train_resume"])
def test_every_command_refuses_every_payload_before_it_runs(genuine, tmp_path, payload, command):
    ckpt, marker, target = malicious_checkpoint(genuine, tmp_path, payload)
    before = snapshot(tmp_path)
    with pytest.raises(UserError) as refused:
        if command == "sample":
            run_sample(sample_cfg(ckpt))
        elif command == "evaluate":
            evaluate_checkpoint(evaluate_cfg(ckpt, tmp_path / "cache"))
        else:
            train(compose([*SYNTHETIC, f"trainer.resume={ckpt}"]), tmp_path / "resumed")
    message = str(refused.value)
    assert f"_target_={target}" in message and "trust_checkpoint=true" in message and "\n" not in message
    assert not marker.exists()
    assert snapshot(tmp_path) == before  # nothing written: no samples, no eval JSON, no resumed run


# -- refused, through the entry points: one line, exit code 2 ------------------------------------------------
CLI_CASES = [
    ("sample.py", "torch_load_beside"), ("evaluate.py", "numpy_allow_pickle"), ("train.py", "nested"),
]
# The rest of the matrix (each subprocess costs seconds): python -m pytest tests/test_security.py -m slow
CLI_CASES += [
    pytest.param(script, payload, marks=pytest.mark.slow)
    for script in ("sample.py", "evaluate.py", "train.py") for payload in PAYLOADS
    if (script, payload) not in CLI_CASES
]


@pytest.mark.parametrize("script, payload", CLI_CASES)
def test_entry_points_refuse_with_one_line_and_exit_code_2(genuine, tmp_path, script, payload):
    ckpt, marker, target = malicious_checkpoint(genuine, tmp_path, payload)
    args = {
        "sample.py": [f"ckpt={ckpt}", "n=4"],
        "evaluate.py": [f"ckpt={ckpt}", "num_samples=8", f"paths.cache_dir={tmp_path / 'cache'}"],
        "train.py": [*SYNTHETIC, f"trainer.resume={ckpt}", f"hydra.run.dir={tmp_path / 'resumed'}"],
    }[script]
    before = snapshot(tmp_path)
    result = subprocess.run(
        [sys.executable, str(REPO / script), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: config stored in {ckpt}: ")
    assert f"_target_={target}" in result.stderr and "trust_checkpoint=true" in result.stderr
    assert not marker.exists()
    assert snapshot(tmp_path) == before


# -- gan_lab's own checkpoints still load everywhere ----------------------------------------------------------
def test_genuine_checkpoint_samples_evaluates_and_resumes(genuine, tmp_path):
    [grid] = run_sample(sample_cfg(genuine, f"out={tmp_path / 'grid.png'}"))
    assert Image.open(grid).size[0] > 8
    report, _ = evaluate_checkpoint(evaluate_cfg(genuine, tmp_path / "cache", "metrics=[parzen]",
                                                 "parzen.validation=8", f"name={tmp_path.name}"))
    assert np.isfinite(report["metrics"]["parzen"]["value"])
    record = train(compose([*BASE, "trainer.max_steps=4", f"trainer.resume={genuine}"]), tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.ckpt")["step"] == 4, record


def test_every_target_in_conf_is_allowed():
    """If a module is moved or a recipe names a new class, the allowlist must follow, or checkpoints of
    that recipe would be refused."""
    found = set()
    for path in CONF_DIR.rglob("*.yaml"):
        if path.relative_to(CONF_DIR).parts[0] in ("hydra", "hparams_search"):  # never stored in a checkpoint
            continue
        from omegaconf import OmegaConf

        found |= targets_in(OmegaConf.load(path))
    assert len(found) > 20
    assert [t for t in sorted(found) if not target_allowed(t)] == []


# -- what the allowlist refuses, and that it imports nothing to decide --------------------------------------
@pytest.mark.parametrize("target", [
    "os.system", "builtins.exec", "torch.load", "numpy.load", "shutil.rmtree", "subprocess.run",
    "gan_lab.build.instantiate",  # hydra's instantiate, imported into a gan_lab module
    "gan_lab.data.image_folder.torch.load",  # torch reached through a gan_lab module
    "gan_lab.data.image_folder.save_atomically",  # a gan_lab function that writes any path
    "gan_lab.data.torchvision_sets.MNISTData.dataset_class",  # torchvision's MNIST (downloads) via a class
    "gan_lab.models.no_such_module.Thing", "gan_lab.training.trainer.Trainer", "gan_lab.tracking.Tracker",
])
def test_targets_outside_the_allowlist_are_refused(target):
    assert not target_allowed(target)
    with pytest.raises(UserError, match=f"_target_={target} is not one of gan_lab's"):
        check_stored_config({"model": {"generator": {"_target_": target}}}, "x.ckpt")


def test_a_refused_module_is_never_imported(tmp_path, monkeypatch):
    (tmp_path / "evil_on_import.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w')\nclass Thing: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match="evil_on_import.Thing"):
        check_stored_config({"loss": {"_target_": "evil_on_import.Thing"}}, "x.ckpt")
    assert not (tmp_path / "imported").exists() and "evil_on_import" not in sys.modules


@pytest.mark.parametrize("config, key", [
    ({"model": {"generator": {"_target_": "gan_lab.models.dcgan.DCGANGenerator",
                              "_args_": [{"_target_": "torch.load", "_args_": ["p.pt"]}]}}},
     "model.generator._args_[0]._target_=torch.load"),
    ({"optimizer": {"generator": {"_target_": "torch.load", "_partial_": True}}}, "optimizer.generator._target_"),
    ({"scheduler": {"generator": {"_target_": "gan_lab.training.schedules.linear_decay", "_partial_": True,
                                  "decay_start": {"_target_": "os.getenv", "key": "HOME"}}}},
     "scheduler.generator.decay_start._target_=os.getenv"),
    ({"dataset": {"_target_": "gan_lab.data.synthetic.SyntheticImages", "seed": "${oc.env:HOME}"}},
     "dataset.seed holds an interpolation"),
    ({"loss": {"_target_": ["gan_lab.losses.BCELoss"]}}, "loss._target_ is a list"),
    ({"loss": {"_target_": "gan_lab.losses.BCELoss", "weight": torch.ones(2)}}, "loss.weight holds a Tensor"),
])
def test_nested_targets_partials_interpolations_and_objects_are_refused(config, key):
    with pytest.raises(UserError) as refused:
        check_stored_config(config, "x.ckpt")
    assert key in str(refused.value)
    check_stored_config(config, "x.ckpt", trust=True)  # the opt-in lifts the check


def test_resume_accepts_the_targets_the_users_own_config_names():
    stored = {"loss": {"_target_": "tests.fakes.NonFiniteLoss"}, "model": {"_target_": "torch.load"}}
    with pytest.raises(UserError, match="model._target_=torch.load"):
        check_stored_config(stored, "x.ckpt", also_allowed={"tests.fakes.NonFiniteLoss"})
    check_stored_config(stored, "x.ckpt", also_allowed={"tests.fakes.NonFiniteLoss", "torch.load"})


def test_a_node_changed_after_loading_is_checked_again_before_it_is_built(genuine, tmp_path):
    cfg = load_stored_config(load_checkpoint(genuine)["config"], genuine)
    cfg.model.generator = {"_target_": "shutil.copyfile", "src": str(genuine), "dst": str(tmp_path / "marker")}
    with pytest.raises(UserError, match="model.generator._target_=shutil.copyfile"):
        build_generator(cfg)
    assert not (tmp_path / "marker").exists()


# -- caches: plain tensors, weights_only=True, a tampered file is rebuilt -----------------------------------
def test_cache_stores_tensors_and_rebuilds_a_pickle_instead_of_running_it(tmp_path, capsys):
    path = tmp_path / "cache" / "stats.pt"
    calls = []

    def compute():
        calls.append(1)
        return {"mu": np.arange(3, dtype=np.float64), "n": np.int64(3), "names": ("a", "b")}

    first, hit = cached(path, compute, required_keys=("mu", "n"))
    again, hit_again = cached(path, compute, required_keys=("mu", "n"))
    assert (hit, hit_again, len(calls)) == (False, True, 1)
    assert isinstance(first["mu"], torch.Tensor) and first["mu"].dtype == torch.float64  # same types hit or miss
    assert torch.equal(first["mu"], again["mu"]) and again["n"] == 3 and again["names"] == ["a", "b"]
    torch.load(path, weights_only=True)  # what is stored needs no pickle

    marker = tmp_path / "marker"
    torch.save({"mu": CreatesFile(marker), "n": 3}, path)  # a poisoned file in a shared cache directory
    rebuilt, hit = cached(path, compute, required_keys=("mu", "n"))
    assert not marker.exists() and not hit and len(calls) == 2 and torch.equal(rebuilt["mu"], first["mu"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cache file {path} does not load as plain tensors" in err and "rebuilding" in err

    torch.save({"something": "else"}, path)  # loads, but is not this cache
    _, hit = cached(path, compute, required_keys=("mu", "n"))
    assert not hit and len(calls) == 3 and "does not hold what this cache stores" in capsys.readouterr().err


def test_tampered_reference_features_and_classifier_caches_are_rebuilt(tmp_path):
    from gan_lab.data.synthetic import SyntheticImages

    data = SyntheticImages(size=64, image_size=8).setup()
    network = resolve_feature_network("auto", str(save_tiny_torchscript(tmp_path)), input_size=16)
    images = data.reference_images()
    key = reference_key(data, "test", images)
    first, _ = reference_features(lambda: images, key, network, tmp_path / "cache", batch_size=32)
    _, info = load_or_train_classifier(data, tmp_path / "cache", epochs=1, width=4, batch_size=32)
    [features_file] = (tmp_path / "cache" / "reference_features").glob("*.pt")
    marker = tmp_path / "marker"
    for poisoned in (features_file, Path(info["path"])):
        torch.save(CreatesFile(marker), poisoned)
    again, hit = reference_features(lambda: images, key, network, tmp_path / "cache", batch_size=32)
    _, info_again = load_or_train_classifier(data, tmp_path / "cache", epochs=1, width=4, batch_size=32)
    assert not marker.exists() and not hit and info_again["trained_now"]
    assert torch.equal(torch.as_tensor(again["stats"]["mu"]), torch.as_tensor(first["stats"]["mu"]))


# -- issue 15 fix 6: one copy of the data is never served from another's cache ------------------------------
def write_cifar_jpeg_tree(root: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        for k in range(10):
            folder = root / "cifar10-jpeg" / split / f"class{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")


def test_reference_cache_is_keyed_by_the_bytes_of_the_reference_images(tmp_path):
    """Two copies of CIFAR-10 (here two JPEG trees; the torchvision files differ from the JPEG re-encodes
    the same way) share name, split, size and shape, but not a cache entry."""
    from gan_lab.data.cifar10 import CIFAR10Data

    network = resolve_feature_network("auto", str(save_tiny_torchscript(tmp_path)), input_size=16)
    results = []
    for copy_name, seed in (("a", 0), ("b", 1), ("a", 0)):
        write_cifar_jpeg_tree(tmp_path / copy_name, seed)
        data = CIFAR10Data(str(tmp_path / copy_name), image_size=8, download=False, cache_dir=str(tmp_path / "d"))
        images = data.reference_images("test")
        key = reference_key(data, "test", images)
        ref, hit = reference_features(lambda images=images: images, key, network, tmp_path / "cache", batch_size=20)
        results.append((key, ref, hit))
    (key_a, ref_a, hit_a), (key_b, ref_b, hit_b), (_, ref_a2, hit_a2) = results
    assert {k: v for k, v in key_a.items() if k != "content"} == {k: v for k, v in key_b.items() if k != "content"}
    assert key_a["content"] != key_b["content"]
    assert (hit_a, hit_b, hit_a2) == (False, False, True)
    assert not torch.equal(torch.as_tensor(ref_a["stats"]["mu"]), torch.as_tensor(ref_b["stats"]["mu"]))
    assert torch.equal(torch.as_tensor(ref_a2["stats"]["mu"]), torch.as_tensor(ref_a["stats"]["mu"]))
