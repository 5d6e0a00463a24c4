"""The time-to-quality table of issue 17: Inception FID-10k of several loops and seeds at given minutes.

    python benchmarks/time_to_quality_table.py \\
        --group "default recipe" 889 250000 runs/default_s0 runs/default_s1 runs/default_s2 \\
        --group "hand-written loop" 437 0 runs/hand_s0 ... [--minutes 5 10 20] [--json out.json]

A group is: label, the img/s of that loop measured on an idle machine (benchmarks/throughput.py), a cap on the
images seen (0 = none; e.g. 250000 = the recipe as shipped, leaving out evaluations of the same run continued
past its end) and its run directories, one per seed. Run directories are train.py runs with evaluate.py results
in eval/*.json, or benchmarks/hand_loop_quality.py outputs (eval_images<N>.json).

Minutes = images seen / idle img/s / 60 (images seen do not depend on machine load; the runs themselves may have
shared the machine). The cell at M minutes is the run's latest evaluated checkpoint at or before M minutes (3%
slack for checkpoint spacing); a run that ended before M (result.json: finished; or a capped group: the cap is the
recipe's end) counts with its last evaluation only when that evaluation is at its end. Prints FID per seed with
(images seen, minutes) and the mean +- std over seeds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.quality_curve import images_per_step  # noqa: E402

SLACK = 1.03


def evaluations(run: Path) -> tuple[list[dict], int | None]:
    """[{images, fid, kid, source}] of a run sorted by images, and the images seen at its end (None: not ended)."""
    points = []
    if not run.is_dir():  # not started yet
        return points, None
    if (run / "train.json").exists():  # hand_loop_quality.py
        trained = json.loads((run / "train.json").read_text())
        for path in run.glob("eval_images*.json"):
            report = json.loads(path.read_text())
            key = re.fullmatch(r"eval_images(\d+)\.json", path.name).group(1)
            points.append(point(report, trained["snapshots"][key]["images_seen"], path))
        # the hand loop has no recipe end: its last snapshot is where training stopped, not a result for later minutes
        return sorted(points, key=lambda p: p["images"]), None
    per_step = images_per_step(run)
    for path in (run / "eval").glob("*.json"):
        report = json.loads(path.read_text())
        if "fid" in report.get("metrics", {}) and report["protocol"].get("num_samples") == 10000:
            points.append(point(report, int(report["protocol"]["step"]) * per_step, path))
    result = json.loads((run / "result.json").read_text()) if (run / "result.json").exists() else {}
    final = int(result["final"]["step"]) * per_step if result.get("status") == "finished" else None
    return sorted(points, key=lambda p: p["images"]), final


def point(report: dict, images: int, path: Path) -> dict:
    kid = report["metrics"].get("kid", {})
    return {"images": images, "fid": report["metrics"]["fid"]["value"], "kid": kid.get("value"), "source": str(path)}


def cell(points: list[dict], minutes: float, rate: float, cap: int, final: int | None) -> dict | None:
    """The evaluation that stands for M minutes, or None when nothing evaluated does."""
    usable = [p for p in points if not cap or p["images"] <= cap]
    before = [p for p in usable if p["images"] / rate / 60 <= minutes * SLACK]
    if not before:
        return None
    last = {**before[-1], "minutes": before[-1]["images"] / rate / 60}
    if last["source"] != usable[-1]["source"] or last["minutes"] >= minutes / SLACK:
        return last  # a later evaluation exists, or this one is at M (within the slack)
    if (cap and last["images"] >= cap / SLACK) or last["images"] == final:
        return last  # the recipe (the cap) or the run ended with this evaluation before M
    return None  # the run went on past this evaluation without another one up to M


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", nargs="+", action="append", required=True,
                        metavar="LABEL RATE CAP DIR", help="label, idle img/s, image cap (0 = none), run dirs")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 20])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    table = []
    header = "| loop | seed | " + " | ".join(f"FID-10k @ {m:g} min (images, min)" for m in args.minutes) + " |"
    print(header + "\n" + "|---" * (2 + len(args.minutes)) + "|")
    for label, rate, cap, *dirs in args.group:
        rate, cap = float(rate), int(cap)
        cells_by_minutes: dict[float, list[float]] = {m: [] for m in args.minutes}
        for run in map(Path, dirs):
            points, final = evaluations(run)
            row = {"loop": label, "run": str(run), "idle_img_per_s": rate, "cells": {}}
            texts = []
            for m in args.minutes:
                c = cell(points, m, rate, cap, final)
                row["cells"][str(m)] = c
                if c is None:
                    texts.append("-")
                else:
                    cells_by_minutes[m].append(c["fid"])
                    texts.append(f"{c['fid']:.2f} ({c['images'] / 1000:.0f}k, {c['minutes']:.1f})")
            table.append(row)
            print(f"| {label} | {run.name} | " + " | ".join(texts) + " |")
        means = []
        for m in args.minutes:
            v = cells_by_minutes[m]
            sd = f" +- {statistics.stdev(v):.2f}" if len(v) > 1 else ""
            means.append(f"**{statistics.mean(v):.2f}**{sd} (n={len(v)})" if v else "-")
        print(f"| {label} | mean | " + " | ".join(means) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"minutes": args.minutes, "slack": SLACK, "rows": table}, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
