"""ONNX Runtime as the engine of a TorchScript feature network (`fidelity.backend`).

The FID Inception is a fixed, frozen graph; exported once to ONNX (`torch.onnx.export(..., dynamo=False)`) and
run by ONNX Runtime's CPU provider it computes the same 2048-d features (within 1e-5 on real images) about twice
as fast as torch on a CPU without bf16. The ONNX file is cached under <cache_dir>/onnx/, keyed by the sha256 of the
TorchScript weights, the input size and the opset, and written atomically. Needs the optional packages `onnx`
(export) and `onnxruntime` (inference): `pip install 'gan_lab[fast-fid]'`; without them `auto` uses torch.
"""

from __future__ import annotations

import os
import sys
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_lab.errors import UserError

BACKENDS = ("auto", "torch", "onnxruntime")
GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
ONNX_OPSET = 17
INSTALL_HINT = "pip install 'gan_lab[fast-fid]' (onnx and onnxruntime)"


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def resolve_backend(requested: str, network_kind: str, device: torch.device | str = "cpu") -> str:
    """torch or onnxruntime. auto: ONNX Runtime for a TorchScript network on CPU when it is installed, else torch
    (on CUDA torch runs the network on the GPU; torch-fidelity's own Inception stays on torch)."""
    if requested not in BACKENDS:
        raise UserError(f"fidelity.backend must be one of {', '.join(BACKENDS)}, got {requested!r}")
    on_cpu = torch.device(device).type == "cpu"
    if requested == "auto":
        fast = network_kind == "torchscript" and on_cpu and installed_version("onnxruntime") is not None
        return "onnxruntime" if fast and installed_version("onnx") is not None else "torch"
    if requested == "onnxruntime":
        if network_kind != "torchscript":
            raise UserError(
                f"fidelity.backend=onnxruntime runs a TorchScript feature network, not {network_kind}; pass "
                f"fidelity.feature_extractor_weights_path=<TorchScript FID Inception .pt> or fidelity.backend=torch"
            )
        missing = [p for p in ("onnx", "onnxruntime") if installed_version(p) is None]
        if missing:
            raise UserError(f"fidelity.backend=onnxruntime needs {' and '.join(missing)}: {INSTALL_HINT}")
    return requested


def onnx_path(cache_dir: str | os.PathLike, weights_sha256: str, input_size: int) -> Path:
    return Path(cache_dir) / "onnx" / f"torchscript-{weights_sha256[:16]}-{input_size}px-opset{ONNX_OPSET}.onnx"


def export_onnx(weights_path: str | os.PathLike, out: Path, input_size: int) -> Path:
    """Export the TorchScript network to `out` (batch axis dynamic), atomically: a half-written file never exists."""
    model = torch.jit.load(str(weights_path), map_location="cpu").eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(
                model, (torch.zeros(1, 3, input_size, input_size),), str(tmp), dynamo=False,
                input_names=["images"], output_names=["features"], opset_version=ONNX_OPSET,
                dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def ensure_onnx(weights_path: str | os.PathLike, weights_sha256: str, cache_dir, input_size: int) -> Path:
    path = onnx_path(cache_dir, weights_sha256, input_size)
    if not path.is_file():
        print(f"exporting {weights_path} to ONNX once: {path}", file=sys.stderr)
        export_onnx(weights_path, path, input_size)
    return path


_SESSIONS: dict[tuple, object] = {}


def session(path: Path, threads: int, graph_optimization: str = "all"):
    """One ONNX Runtime CPU session per (file, threads, optimisation level) and process: creating one costs
    seconds, and in-training evaluation and sweeps evaluate many times."""
    import onnxruntime as ort

    if graph_optimization not in GRAPH_OPTIMIZATIONS:
        raise UserError(
            f"fidelity.onnx_graph_optimization must be one of {', '.join(GRAPH_OPTIMIZATIONS)}, "
            f"got {graph_optimization!r}"
        )
    key = (str(path), threads, graph_optimization)
    if key not in _SESSIONS:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one graph, run sequentially: the cores go to the operators
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[graph_optimization]
        try:
            _SESSIONS[key] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # a cache file from elsewhere that ONNX Runtime cannot read
            raise UserError(f"ONNX Runtime cannot load {path} ({err}); delete it and it is exported again") from err
    return _SESSIONS[key]


class OnnxFeatureModel:
    """callable((N, 3, S, S) float tensor) -> (N, D) float32 features, like the TorchScript module it replaces."""

    def __init__(self, path: Path, threads: int, graph_optimization: str = "all"):
        self.path, self.threads, self.graph_optimization = path, threads, graph_optimization
        self.session = session(path, threads, graph_optimization)

    def __call__(self, x: Tensor) -> Tensor:
        images = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run(["features"], {"images": images})[0])


def describe_backend(backend: str, threads: int | None = None, graph_optimization: str | None = None,
                     onnx_file: Path | None = None) -> dict:
    """What a result records about the engine that computed its features."""
    if backend == "onnxruntime":
        return {
            "name": "onnxruntime",
            "version": installed_version("onnxruntime"),
            "provider": "CPUExecutionProvider",
            "graph_optimization": graph_optimization,
            "intra_op_threads": threads,
            "onnx_file": str(onnx_file) if onnx_file else None,
            "onnx_opset": ONNX_OPSET,
            "exported_by": f"torch {torch.__version__} torch.onnx.export(dynamo=False)",
        }
    return {"name": "torch", "version": torch.__version__, "memory_format": "channels_last"}
