"""The package's layers, enforced: no module imports a module of a higher layer (README, "Layout").

Every import is read from the source with ast, function-local ones included (they hide cycles, not
dependencies). A module of gan_lab not placed in LAYERS fails the test, so a new module says where it sits.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_lab"

# Lowest first. A module may import its own layer and the layers below it.
LAYERS = [
    # shared by every layer; safe_config: which _target_ a config read from a file may build
    ["gan_lab", "gan_lab.errors", "gan_lab.utils", "gan_lab.config", "gan_lab.safe_config"],
    ["gan_lab.models", "gan_lab.losses", "gan_lab.data", "gan_lab.tracking"],
    ["gan_lab.build"],  # networks, loss and data from a config
    # training/ (trainer, callbacks, data_loading, run), evaluation/ (metrics, onnx_backend), loading
    ["gan_lab.training", "gan_lab.evaluation", "gan_lab.loading"],
    ["gan_lab.sampling", "gan_lab.plots"],  # pictures from a trained generator or a run
    ["gan_lab.jobs", "gan_lab.sweeps", "gan_lab.report"],  # one job per command; report/: the sweep report
]

# Known upward imports. Empty since the training loop runs callbacks (issue 19): do not add to it,
# put the code where the layers allow it.
ALLOWED: set[tuple[str, str]] = set()


def layer_of(module: str) -> int | None:
    best = None  # the longest matching prefix decides (gan_lab.utils before gan_lab)
    for rank, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > len(best[1])):
                best = (rank, name)
    return None if best is None else best[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # from pkg import submodule
    return {name for name in found if name == "gan_lab" or name.startswith("gan_lab.")}


def known_module(name: str) -> bool:
    path = PACKAGE.parent / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = sorted(PACKAGE.rglob("*.py"))


def upward_imports(path: Path) -> list[tuple[str, str]]:
    importer = module_name(path)
    own = layer_of(importer)
    return [
        (importer, imported)
        for imported in sorted(imports_of(path))
        if known_module(imported) and layer_of(imported) is not None and layer_of(imported) > own
    ]


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_every_module_has_a_layer(path):
    assert layer_of(module_name(path)) is not None, f"{module_name(path)}: add it to LAYERS in {__file__}"


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_module_imports_a_higher_layer(path):
    new = [pair for pair in upward_imports(path) if pair not in ALLOWED]
    assert not new, f"imports of a higher layer: {new}"


def test_the_allowlist_holds_only_imports_that_still_exist():
    found = {pair for path in MODULES for pair in upward_imports(path)}
    assert ALLOWED <= found, f"fixed, remove from ALLOWED: {sorted(ALLOWED - found)}"


def test_the_check_sees_a_function_local_upward_import(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from gan_lab.jobs.train import train_job\n")
    assert imports_of(source) >= {"gan_lab.jobs.train", "gan_lab.jobs.train.train_job"}
    assert layer_of("gan_lab.jobs.train") > layer_of("gan_lab.training.trainer")
