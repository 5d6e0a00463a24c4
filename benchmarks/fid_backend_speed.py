"""Speed of the FID feature network per backend, side by side in one process, and how close it is to the CPU's limit.

    python benchmarks/fid_backend_speed.py                                  # torch and onnxruntime, 1 and 2 threads,
                                                                            # batches 25 50 100, ~8 min idle
    python benchmarks/fid_backend_speed.py --images 100 --rounds 1 --batch-sizes 25   # a quick check
    python benchmarks/fid_backend_speed.py --optimizations basic extended all   # ONNX Runtime graph levels

What is timed is what FID pays per image: the torch-fidelity extractor gan_lab registers (uint8 28x28 grey ->
RGB -> TF1-style bilinear resize to 299 -> (x - 128) / 128 -> network -> 2048 features) on batches already in
memory (no DataLoader). Configurations are interleaved: each round times every configuration once, in rotating
order, and the table gives the median over rounds, so load that drifts over minutes hits them alike.

The limit: GFLOP per image is counted once by torch.utils.flop_counter on the TorchScript network (multiply-add =
2 FLOP); GFLOP/s reached = img/s x that. The peak is a 2048x2048 fp32 torch.mm at the same thread count, best of
several, measured in this process between rounds. "of peak" = reached / peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.machine import cpu_name, matmul_peak_gflops  # noqa: E402
from gan_lab.evaluation.fidelity import network_layers, resolve_feature_network  # noqa: E402

DEFAULT_WEIGHTS = os.environ.get(
    "GAN_LAB_FID_WEIGHTS", "/work/shared/weights/fid_inception_2015-12-05_torchscript.pt"
)


def network_gflop(weights: str, input_size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model = torch.jit.load(weights, map_location="cpu").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, input_size, input_size))
    return counter.get_total_flops() / 1e9


class Config:
    def __init__(self, backend: str, threads: int, batch: int, optimization: str, weights: str, cache: str, size: int):
        self.backend, self.threads, self.batch, self.optimization = backend, threads, batch, optimization
        torch.set_num_threads(threads)
        network = resolve_feature_network(
            "torchscript", weights, size, backend, cache, "cpu", optimization
        )
        from torch_fidelity.utils import create_feature_extractor

        self.extractor = create_feature_extractor(
            network.registry_name, network_layers(network), cuda=False, verbose=False
        )
        self.version = network.backend["version"]

    @property
    def label(self) -> str:
        opt = f" {self.optimization}" if self.backend == "onnxruntime" else ""
        return f"{self.backend}{opt}, {self.threads} thr, batch {self.batch}"

    @torch.no_grad()
    def images_per_second(self, images: torch.Tensor) -> float:
        torch.set_num_threads(self.threads)
        self.extractor(images[: self.batch])  # warm-up (first-run allocations, ORT's thread pool)
        start = time.perf_counter()
        for i in range(0, images.shape[0], self.batch):
            self.extractor(images[i : i + self.batch])
        return images.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[25, 50, 100])
    parser.add_argument("--optimizations", nargs="+", default=["all"], help="ONNX Runtime graph optimisation levels")
    parser.add_argument("--images", type=int, default=200, help="images per timing (a multiple of every batch size)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--input-size", type=int, default=299)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--cache-dir", default=None, help="where the ONNX export goes (default: a temp dir)")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    cache = args.cache_dir or tempfile.mkdtemp(prefix="fid_backend_speed_")
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.images, 3, 28, 28), generator=gen, dtype=torch.uint8)
    gflop = network_gflop(args.weights, args.input_size)
    configs = [
        Config(backend, threads, batch, opt, args.weights, cache, args.input_size)
        for threads in args.threads
        for backend in args.backends
        for opt in (args.optimizations if backend == "onnxruntime" else ["-"])
        for batch in args.batch_sizes
    ]
    rates: dict[int, list[float]] = {i: [] for i in range(len(configs))}
    peaks: dict[int, list[float]] = {t: [] for t in args.threads}
    for r in range(args.rounds):
        order = list(range(len(configs)))
        order = order[r % len(order) :] + order[: r % len(order)]  # rotate who goes first
        for i in order:
            rates[i].append(configs[i].images_per_second(images))
            print(f"round {r + 1}: {configs[i].label}: {rates[i][-1]:.2f} img/s", file=sys.stderr, flush=True)
        for t in args.threads:
            peaks[t].append(matmul_peak_gflops(t))

    peak = {t: max(v) for t, v in peaks.items()}
    rows = []
    for i, c in enumerate(configs):
        rate = statistics.median(rates[i])
        rows.append({
            "backend": c.backend, "version": c.version,
            "optimization": c.optimization if c.backend != "torch" else None,
            "threads": c.threads, "batch": c.batch, "img_per_s": rate, "img_per_s_rounds": rates[i],
            "gflops": rate * gflop, "fraction_of_matmul_peak": rate * gflop / peak[c.threads],
        })
    base = {(r["threads"], r["batch"]): r["img_per_s"] for r in rows if r["backend"] == "torch"}
    print(f"\n{gflop:.2f} GFLOP per image (torch.utils.flop_counter, {args.input_size}px); "
          f"fp32 matmul 2048^2 peak: " + ", ".join(f"{t} thr {p:.0f} GFLOP/s" for t, p in peak.items()))
    print(f"{args.images} images per timing, median of {args.rounds} interleaved rounds; "
          f"{cpu_name()}, {os.cpu_count()} CPUs\n")
    print("| backend | threads | batch | img/s | vs torch | GFLOP/s | of fp32 matmul peak |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        name = r["backend"] + (f" ({r['optimization']})" if r["optimization"] else "")
        ratio = r["img_per_s"] / base[(r["threads"], r["batch"])] if (r["threads"], r["batch"]) in base else None
        print(f"| {name} {r['version']} | {r['threads']} | {r['batch']} | {r['img_per_s']:.2f} | "
              f"{f'{ratio:.2f}x' if ratio else ''} | {r['gflops']:.0f} | {100 * r['fraction_of_matmul_peak']:.0f}% |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(
            {"gflop_per_image": gflop, "matmul_peak_gflops": peak, "matmul_peak_rounds": peaks, "rows": rows,
             "images": args.images, "rounds": args.rounds, "torch": torch.__version__}, indent=2) + "\n")


if __name__ == "__main__":
    main()
