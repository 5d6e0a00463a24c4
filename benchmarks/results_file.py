"""Where a benchmark writes its result: benchmarks/results/<UTC date>_<name>.<ext>, one file per run.

A second run on the same day gets _<HHMMSS> added, so no earlier result is overwritten.
"""

from __future__ import annotations

import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def dated_result(name: str, ext: str = "json") -> Path:
    now = time.gmtime()
    path = RESULTS / f"{time.strftime('%Y-%m-%d', now)}_{name}.{ext}"
    if path.exists():
        path = path.with_name(f"{time.strftime('%Y-%m-%d_%H%M%S', now)}_{name}.{ext}")
    return path
