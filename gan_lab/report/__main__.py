"""python -m gan_lab.report <multirun dir> [--out DIR] [--metrics a,b] [--baseline key=value]
[--curve-metric eval/classifier_fid] [--thresholds 100,50] [--no-plots] [--wandb]

Writes into <multirun dir>/report/ (or --out): report.md, report.html (self-contained), CSV tables
(jobs, variants, comparison, time_to_quality, thresholds, eval_<name>) and the plots. argparse, not
Hydra: the report reads a finished sweep and has no config to compose, and `--baseline key=value`
would need quoting as a Hydra override.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gan_lab.errors import UserError, exit_on_user_error


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    from gan_lab.report.build import write_report

    parser = argparse.ArgumentParser(prog="python -m gan_lab.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a multirun dir (holds multirun.yaml and one dir per job)")
    parser.add_argument("--out", default=None, help="output dir (default: <sweep_dir>/report)")
    parser.add_argument("--metrics", default=None, help="comma-separated metrics (default: all)")
    parser.add_argument("--baseline", default=None, help="key=value of the baseline variant (default: the first)")
    parser.add_argument("--curve-metric", default=None, help="time-to-quality metric (default: eval/classifier_fid)")
    parser.add_argument("--thresholds", type=_floats, default=None, help="comma-separated quality thresholds")
    parser.add_argument("--no-plots", action="store_true", help="tables only")
    parser.add_argument("--wandb", action="store_true", help="log the tables to the sweep's W&B group")
    args = parser.parse_args(argv)
    if not Path(args.sweep_dir).is_dir():
        raise UserError(f"{args.sweep_dir} is not a directory; pass a multirun dir")
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    report = write_report(args.sweep_dir, args.out, metrics, plots=not args.no_plots, baseline=args.baseline,
                          curve_metric=args.curve_metric, thresholds=args.thresholds)
    print((report.parent / "variants.md").read_text())
    if args.wandb:
        from gan_lab.report.wandb_summary import log_summary

        print(f"W&B: {log_summary(Path(args.sweep_dir), report.parent)}")
    print(f"report: {report}\nhtml:   {report.with_suffix('.html')}", file=sys.stdout)


if __name__ == "__main__":
    main()
