"""Where a run's data went when the data directory moved."""

from __future__ import annotations

from pathlib import Path


def relocate(root: str, old_data_dir: str | None, new_data_dir: str) -> str:
    """A dataset root under the run's data dir, moved under the new one (MNIST: the dir itself;
    facades: <data_dir>/facades). A root outside the old data dir is kept."""
    if not old_data_dir:
        return root
    try:
        rel = Path(root).relative_to(Path(old_data_dir))
    except ValueError:
        return root
    return str(Path(new_data_dir) / rel)
