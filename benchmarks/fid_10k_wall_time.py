"""Wall time of `evaluate.py metrics=[fid,kid,prc] num_samples=10000`: first reference pass, then reference cached.

    python benchmarks/fid_10k_wall_time.py --ckpt outputs/runs/dcgan_mnist/eval_baseline/checkpoints/last.ckpt
    python benchmarks/fid_10k_wall_time.py --ckpt <ckpt> --torch own-reference    # + a pure-torch FID (~2 h)
    python benchmarks/fid_10k_wall_time.py --ckpt <ckpt> --n 100 --threads 1      # a quick check

Runs evaluate.py as a separate process per case (the wall time is what a user waits, start-up included) with a
fresh cache dir (so the first pass really computes the reference features, and exports the ONNX file) and
force=true (so a case is computed even when its result is there). Cases:

  onnxruntime, first pass   reference features (the whole test split unless --reference-size) and samples
  onnxruntime, cached       the same command again: only the samples' features and the metrics
  torch                     --torch shared-reference (default): torch features of the samples, the cached reference;
                            own-reference: torch computes the reference too (its own cache dir); skip: none

Each case writes <run>/eval/fid10k-<case>.json with its protocol (evaluate.py); the table reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = os.environ.get(
    "GAN_LAB_FID_WEIGHTS", "/work/shared/weights/fid_inception_2015-12-05_torchscript.pt"
)


def run_case(args, name: str, backend: str, cache_dir: Path) -> dict:
    command = [
        sys.executable, str(REPO / "evaluate.py"), f"ckpt={args.ckpt}", "metrics=[fid,kid,prc]",
        f"num_samples={args.n}", f"num_threads={args.threads}", f"fidelity.backend={backend}",
        f"fidelity.feature_extractor_weights_path={args.weights}", f"paths.cache_dir={cache_dir}", f"name={name}",
        "force=true", f"fidelity.batch_size={args.batch_size}",
    ]
    if args.reference_size:
        command.append(f"reference_size={args.reference_size}")
    if args.n < 1000:
        command.append(f"fidelity.kid_subset_size={args.n}")  # KID needs subsets no larger than the sets
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - start
    ckpt = Path(args.ckpt).resolve()
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    result = json.loads((run_dir / "eval" / f"{name}.json").read_text())
    return {"case": name, "backend": backend, "process_wall_s": wall, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--reference-size", type=int, default=None, help="first N reference images (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--torch", choices=["skip", "shared-reference", "own-reference"], default="shared-reference")
    parser.add_argument("--cache-dir", default=None, help="a fresh temp dir by default (so the first pass is one)")
    args = parser.parse_args()
    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="fid_10k_wall_time_"))

    cases = [
        run_case(args, "fid10k-onnxruntime-first-pass", "onnxruntime", cache),
        run_case(args, "fid10k-onnxruntime-cached", "onnxruntime", cache),
    ]
    if args.torch != "skip":
        torch_cache = cache / "torch-own-reference" if args.torch == "own-reference" else cache
        cases.append(run_case(args, f"fid10k-torch-{args.torch}", "torch", torch_cache))

    print(f"\n{args.n} samples of {args.ckpt}, {args.threads} threads, feature batch {args.batch_size}\n")
    print("| case | reference | FID | KID | PRC F | total s | reference s | samples' features + metrics s |")
    print("|---|---|---|---|---|---|---|---|")
    for c in cases:
        m = c["result"]["metrics"]
        wall = m["fid"]["wall_time_s"]
        ref = c["result"]["protocol"]["reference"]
        print(
            f"| {c['case']} | {'cached' if m['fid']['reference_cache_hit'] else 'computed'} ({ref['size']} images) | "
            f"{m['fid']['value']:.4f} | {m['kid']['value']:.5f} | {m['prc']['value']:.4f} | "
            f"{c['process_wall_s']:.0f} | {wall['reference_features']:.0f} | "
            f"{wall['generated_features_and_metrics']:.0f} |"
        )
    fids = {c["case"]: c["result"]["metrics"]["fid"]["value"] for c in cases}
    if len(cases) == 3:
        diff = abs(fids[cases[1]["case"]] - fids[cases[2]["case"]])
        print(f"\n|FID onnxruntime - FID torch| = {diff:.2e} (target <= 0.01: {'OK' if diff <= 0.01 else 'FAIL'})")
    print(f"results: {Path(cases[0]['result']['protocol']['checkpoint']).parent.parent / 'eval'}/fid10k-*.json")


if __name__ == "__main__":
    main()
