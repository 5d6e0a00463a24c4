"""Compare the jobs of a sweep: python -m gan_lab.report <multirun dir> (see __main__ and docs/sweeps.md).

collect (job dirs) -> statistics (variants, bootstrap CIs, paired comparison) and curves (time to quality)
-> tables / figures -> document -> render_markdown (with CSV) and render_html; build.write_report ties them.
"""

from gan_lab.report.build import write_report
from gan_lab.report.statistics import mean_std

__all__ = ["main", "mean_std", "write_report"]


def main(argv: list[str] | None = None) -> None:
    from gan_lab.report.__main__ import main as cli_main

    cli_main(argv)
