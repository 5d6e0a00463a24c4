"""The ONNX Runtime engine of the FID feature network: same features as torch, exported once, chosen by config."""

import os
from pathlib import Path

import pytest
import torch

from gan_lab.errors import UserError
from gan_lab.evaluation import onnx_backend
from gan_lab.evaluation.fidelity import extract_features, resolve_feature_network
from tests.conftest import data_dir
from tests.evaluation_helpers import TinyFeatures, save_tiny_torchscript

# $GAN_LAB_FID_WEIGHTS, else the weights folder beside the datasets (../shared/weights on the lab machines)
FID_WEIGHTS = Path(
    os.environ.get("GAN_LAB_FID_WEIGHTS")
    or Path(os.environ.get("GAN_LAB_DATA", "data")).parent / "weights" / "fid_inception_2015-12-05_torchscript.pt"
)
pytest.importorskip("onnxruntime", reason="the fast-fid extra (onnx, onnxruntime) is not installed")
pytest.importorskip("onnx", reason="the fast-fid extra (onnx, onnxruntime) is not installed")


def noise_images(n: int, seed: int, size: int = 16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, size, size), generator=gen).to(torch.uint8)


@pytest.mark.skipif(not FID_WEIGHTS.is_file() or data_dir() is None, reason="needs the FID Inception and MNIST")
def test_onnxruntime_features_equal_torch_on_real_mnist_images_through_the_fid_inception(tmp_path):
    from gan_lab.data.torchvision_sets import MNISTData

    images = MNISTData(str(data_dir()), image_size=28, download=False).reference_images("test")[:4]
    torch_net = resolve_feature_network("auto", str(FID_WEIGHTS), backend="torch")
    onnx_net = resolve_feature_network("auto", str(FID_WEIGHTS), backend="onnxruntime", cache_dir=tmp_path)
    assert (torch_net.backend["name"], onnx_net.backend["name"]) == ("torch", "onnxruntime")
    reference = extract_features(images, torch_net, batch_size=4)["pool"]
    fast = extract_features(images, onnx_net, batch_size=4)["pool"]
    assert reference.shape == fast.shape == (4, 2048)
    assert reference.abs().max() > 0.1  # real activations, not an all-zero pass
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-4)


def test_tiny_network_gives_the_same_features_on_both_backends(tmp_path):
    weights = str(save_tiny_torchscript(tmp_path))
    x = noise_images(10, seed=0)
    by_torch = extract_features(x, resolve_feature_network("torchscript", weights, 32), batch_size=4)["pool"]
    by_onnx = extract_features(
        x, resolve_feature_network("torchscript", weights, 32, "onnxruntime", tmp_path / "c"), batch_size=4
    )["pool"]
    torch.testing.assert_close(by_onnx, by_torch, rtol=0, atol=1e-5)


def test_onnx_file_is_exported_once_per_weights_and_written_atomically(tmp_path, monkeypatch):
    weights = save_tiny_torchscript(tmp_path)
    exports = []
    real_export = onnx_backend.export_onnx
    monkeypatch.setattr(onnx_backend, "export_onnx", lambda *a: exports.append(a) or real_export(*a))
    cache = tmp_path / "cache"
    first = resolve_feature_network("torchscript", str(weights), 24, "onnxruntime", cache)
    second = resolve_feature_network("torchscript", str(weights), 24, "onnxruntime", cache)
    assert len(exports) == 1 and first.backend["onnx_file"] == second.backend["onnx_file"]
    onnx_file = Path(first.backend["onnx_file"])
    assert onnx_file.parent == cache / "onnx" and first.weights_sha256[:16] in onnx_file.name
    assert sorted(p.name for p in onnx_file.parent.iterdir()) == [onnx_file.name]  # no temp file left behind

    torch.manual_seed(1)
    torch.jit.script(TinyFeatures().eval()).save(str(tmp_path / "other.pt"))  # other weights: another file
    third = resolve_feature_network("torchscript", str(tmp_path / "other.pt"), 24, "onnxruntime", cache)
    assert len(exports) == 2 and third.backend["onnx_file"] != first.backend["onnx_file"]


def test_failed_export_leaves_no_file(tmp_path, monkeypatch):
    weights = save_tiny_torchscript(tmp_path)

    def broken(*args, **kwargs):
        Path(args[2]).write_bytes(b"half")  # the exporter dies after writing part of its file
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        resolve_feature_network("torchscript", str(weights), 20, "onnxruntime", tmp_path / "c")
    assert list((tmp_path / "c" / "onnx").iterdir()) == []


def test_unreadable_cached_onnx_file_says_to_delete_it(tmp_path):
    weights = save_tiny_torchscript(tmp_path)
    from gan_lab.evaluation.common import sha256_of

    path = onnx_backend.onnx_path(tmp_path / "c", sha256_of(weights), 28)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an onnx file")
    network = resolve_feature_network("torchscript", str(weights), 28, "onnxruntime", tmp_path / "c")
    with pytest.raises(UserError, match="delete it and it is exported again"):
        extract_features(noise_images(2, seed=0), network)


def test_backend_choice(monkeypatch):
    assert onnx_backend.resolve_backend("auto", "torchscript", "cpu") == "onnxruntime"
    assert onnx_backend.resolve_backend("auto", "torchscript", "cuda") == "torch"
    assert onnx_backend.resolve_backend("auto", "inception-v3-compat", "cpu") == "torch"
    assert onnx_backend.resolve_backend("torch", "torchscript", "cpu") == "torch"
    with pytest.raises(UserError, match="fidelity.backend must be one of auto, torch, onnxruntime"):
        onnx_backend.resolve_backend("openvino", "torchscript")
    with pytest.raises(UserError, match="runs a TorchScript feature network, not inception-v3-compat"):
        onnx_backend.resolve_backend("onnxruntime", "inception-v3-compat")

    real = onnx_backend.installed_version
    monkeypatch.setattr(onnx_backend, "installed_version", lambda p: None if p == "onnxruntime" else real(p))
    assert onnx_backend.resolve_backend("auto", "torchscript", "cpu") == "torch"  # not installed: torch
    with pytest.raises(UserError, match=r"needs onnxruntime: pip install 'gan_lab\[fast-fid\]'"):
        onnx_backend.resolve_backend("onnxruntime", "torchscript")


def test_session_uses_torch_threads_and_the_configured_optimisation(tmp_path):
    weights = str(save_tiny_torchscript(tmp_path))
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        network = resolve_feature_network("torchscript", weights, 20, "onnxruntime", tmp_path, "cpu", "basic")
    finally:
        torch.set_num_threads(previous)
    assert network.backend["intra_op_threads"] == 2 and network.backend["graph_optimization"] == "basic"
    assert network.describe()["backend"]["version"] == onnx_backend.installed_version("onnxruntime")
    session = onnx_backend.session(Path(network.backend["onnx_file"]), 2, "basic")
    options = session.get_session_options()
    assert options.intra_op_num_threads == 2
    with pytest.raises(UserError, match="onnx_graph_optimization must be one of"):
        onnx_backend.session(Path(network.backend["onnx_file"]), 1, "max")
