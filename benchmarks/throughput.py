"""Training throughput of every recipe, measured side by side in one process.

    python benchmarks/throughput.py                        # all recipes in conf/experiment, table + JSON
    python benchmarks/throughput.py --recipes dcgan_mnist --repeats 7 --threads 2

For each recipe at its default batch size and precision, three loops train their own copy of the models:

- gan_lab:   the gan_lab Trainer (Trainer.fit, with logging every trainer.log_every steps; periodic
             sample grids and checkpoints are switched off, they are not training);
- bare:      the same models, loss objects, precision, memory format and in-memory batches in a plain
             loop with nothing else (the trainer-overhead baseline);
- bare_fp32, bare_fp32_cl: (--breakdown) the bare loop in fp32 without / with channels_last;
- reference: (DCGAN 32x32 recipes only) the pytorch/examples DCGAN loop: fp32, a DataLoader over
             torchvision MNIST with per-item Resize/ToTensor/Normalize and worker processes, Sigmoid +
             BCELoss, two Adam optimizers, .item() on the logged values every step.

The machine is shared, so the loops are interleaved (one window of each per round, in rotating order)
and every number is the median over rounds; ratios are medians of the per-round ratios, which cancel
load that drifts between rounds. Rates are given per wall-clock second and per CPU second of this
process (steadier on a loaded machine; it does not count the reference's DataLoader workers).
Peak memory: on CPU, the peak resident set size of a separate `train.py` process running the recipe
for a few steps (os.wait4 rusage); on CUDA, torch.cuda.max_memory_allocated of each loop here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.machine import cpu_name, matmul_peak_gflops  # noqa: E402
from benchmarks.results_file import dated_result  # noqa: E402
from benchmarks.training_loops import (  # noqa: E402
    BareLoop,
    GanLabLoop,
    Loop,
    ReferenceLoop,
    all_recipes,
    compose,
    gflop_per_image,
    loop_precision,
    timed,
)

# The child reports VmHWM (its own mm's high-water mark) at exit. ru_maxrss from wait4 would not do:
# Linux carries the forking parent's peak RSS across fork + exec into the child's ru_maxrss.
_REPORT_PEAK = """
import atexit, runpy, sys
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(report)
out, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
runpy.run_path(script, run_name="__main__")
"""


def peak_rss_of_training(recipe: str, steps: int, overrides: list[str]) -> float:
    """Peak RSS (GiB) of a separate `train.py experiment=<recipe>` process running `steps` steps."""
    with tempfile.TemporaryDirectory() as run_dir:
        peak_file = Path(run_dir) / "vmhwm_kib"
        cmd = [
            sys.executable, "-c", _REPORT_PEAK, str(peak_file), str(REPO / "train.py"), f"experiment={recipe}",
            "logger=none", "trainer.max_epochs=null", f"trainer.max_steps={steps}", "trainer.progress_bar=false",
            f"hydra.run.dir={run_dir}/run", *overrides,
        ]
        proc = subprocess.run(cmd, cwd=run_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0 or not peak_file.exists():
            raise RuntimeError(f"{' '.join(cmd[3:])} failed: {proc.stderr[-2000:]}")
        return int(peak_file.read_text()) * 1024 / 2**30


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure_recipe(recipe: str, args, device: torch.device) -> dict:
    cfg = compose(recipe, [f"trainer.device={device.type}", *args.override])
    with tempfile.TemporaryDirectory() as run_dir:
        ganlab = GanLabLoop(cfg, Path(run_dir), device)
        loops: list[Loop] = [ganlab, BareLoop(ganlab)]
        if args.breakdown:  # what precision and memory format each contribute
            # bf16 too where the recipe resolved to fp32: on CPUs without native bf16 it is emulated.
            loops += [BareLoop(ganlab, "fp32", False), BareLoop(ganlab, "fp32", True), BareLoop(ganlab, "bf16", True)]
        is_dcgan32 = (
            cfg.model.generator._target_.endswith("DCGANGenerator")
            and int(cfg.dataset.image_size) == 32 and ganlab.data.name == "MNIST"
        )
        if is_dcgan32 and not args.no_reference:
            loops.append(
                ReferenceLoop(cfg.dataset.root, int(cfg.trainer.batch_size), 32, args.reference_workers, device)
            )
        # Warm up every loop (allocator, oneDNN kernels, DataLoader workers), then size the windows
        # so that each takes about args.window seconds.
        steps, gflop = {}, {}
        for loop in loops:
            loop.run(1)
            if not isinstance(loop, GanLabLoop):  # the Trainer runs the bare loop's work: same FLOP
                gflop[loop.name] = gflop_per_image(loop)
            rate, _, _ = timed(loop, args.calibration_steps, device)
            steps[loop.name] = max(2, round(args.window * rate / loop.images_per_step))
        rates: dict[str, list[float]] = {loop.name: [] for loop in loops}
        cpu_rates: dict[str, list[float]] = {loop.name: [] for loop in loops}
        peaks: dict[str, int] = {}
        matmul_peaks: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for r in range(args.repeats):
            order = loops[r % len(loops):] + loops[: r % len(loops)]  # rotate who goes first
            for loop in order:
                rate, cpu_rate, peak = timed(loop, steps[loop.name], device)
                rates[loop.name].append(rate)
                cpu_rates[loop.name].append(cpu_rate)
                if peak is not None:
                    peaks[loop.name] = max(peaks.get(loop.name, 0), peak)
            if device.type == "cpu" and not args.no_peak:  # the limit, measured between rounds in this process
                for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                    matmul_peaks[name].append(matmul_peak_gflops(torch.get_num_threads(), dtype=dtype))
            print(f"  {recipe} round {r + 1}/{args.repeats}: "
                  + ", ".join(f"{k} {v[-1]:.0f} img/s" for k, v in rates.items()), file=sys.stderr, flush=True)

    def ratio(a: str, b: str, table=rates) -> float | None:
        if a not in table or b not in table:
            return None
        return median([x / y for x, y in zip(table[a], table[b], strict=True)])

    result = {
        "recipe": recipe,
        "batch_size": int(cfg.trainer.batch_size),
        "n_critic": int(cfg.trainer.n_critic),
        "precision": ganlab.precision,
        "channels_last": ganlab.channels_last,
        "steps_per_window": steps,
        "img_per_s": {k: v for k, v in rates.items()},
        "median_img_per_s": {k: median(v) for k, v in rates.items()},
        "ratio_vs_reference": ratio("gan_lab", "reference"),
        "bare_vs_reference": ratio("bare", "reference"),
        # Trainer overhead: how much longer a step takes in the Trainer than in the bare loop.
        "trainer_overhead": (1.0 / ratio("gan_lab", "bare")) - 1.0,
        "img_per_cpu_s": {k: v for k, v in cpu_rates.items()},
        "median_img_per_cpu_s": {k: median(v) for k, v in cpu_rates.items()},
        "ratio_vs_reference_cpu": ratio("gan_lab", "reference", cpu_rates),
        "trainer_overhead_cpu": (1.0 / ratio("gan_lab", "bare", cpu_rates)) - 1.0,
    }
    if is_dcgan32 and not args.no_reference:
        result["reference_workers"] = args.reference_workers
    gflop["gan_lab"] = gflop["bare"]
    result["gflop_per_image"] = gflop
    result["gflops"] = {k: gflop[k] * median(v) for k, v in rates.items()}
    if matmul_peaks["fp32"]:
        peak = {k: max(v) for k, v in matmul_peaks.items()}
        result["matmul_peak_gflops"] = {**peak, "rounds": matmul_peaks, "size": 2048, "statistic": "best of rounds"}
        by_name = {loop.name: loop_precision(loop) for loop in loops}
        result["of_matmul_peak"] = {
            k: {"precision": by_name[k], "fraction": v / peak["bf16" if by_name[k] == "bf16" else "fp32"]}
            for k, v in result["gflops"].items()
        }
    if device.type == "cuda":
        result["peak_cuda_gib"] = {k: v / 2**30 for k, v in peaks.items()}
    elif not args.no_memory:
        threads = [f"trainer.num_threads={args.threads}"] if args.threads else []
        result["peak_rss_gib"] = peak_rss_of_training(recipe, args.memory_steps, [*threads, *args.override])
    return result


def print_table(results: list[dict], device: torch.device) -> None:
    mem = "peak CUDA GiB" if device.type == "cuda" else "peak RSS GiB"
    header = f"{'recipe':<22} {'batch':>5} {'precision':>9} {'gan_lab':>8} {'bare':>8} {'reference':>9} " \
             f"{'ratio':>6} {'overhead':>8} {'cpu ratio':>9} {'cpu ovh':>7} {mem:>13}"
    print(header)
    print("-" * len(header))
    for r in results:
        if "error" in r:
            print(f"{r['recipe']:<22} skipped: {r['error']}")
            continue
        m = r["median_img_per_s"]
        ref = f"{m['reference']:.0f}" if "reference" in m else "-"
        ratio = f"{r['ratio_vs_reference']:.2f}x" if r["ratio_vs_reference"] else "-"
        if "peak_cuda_gib" in r:
            memory = f"{r['peak_cuda_gib']['gan_lab']:.2f}"
        else:
            memory = f"{r['peak_rss_gib']:.2f}" if "peak_rss_gib" in r else "-"
        precision = r["precision"] + ("+cl" if r["channels_last"] else "")
        cpu_ratio = f"{r['ratio_vs_reference_cpu']:.2f}x" if r["ratio_vs_reference_cpu"] else "-"
        print(f"{r['recipe']:<22} {r['batch_size']:>5} {precision:>9} {m['gan_lab']:>8.0f} {m['bare']:>8.0f} "
              f"{ref:>9} {ratio:>6} {100 * r['trainer_overhead']:>7.1f}% {cpu_ratio:>9} "
              f"{100 * r['trainer_overhead_cpu']:>6.1f}% {memory:>13}")
        extra = {k: v for k, v in m.items() if k.startswith("bare_")}
        if extra:
            print("    breakdown (img/s): " + ", ".join(f"{k} {v:.0f}" for k, v in extra.items()))
        if "of_matmul_peak" in r:
            peak = r["matmul_peak_gflops"]
            mflop = r["gflop_per_image"]["bare"] * 1e3
            print(f"    MFLOP/img {mflop:.1f}; matmul 2048^2 peak fp32 {peak['fp32']:.0f}, "
                  f"bf16 {peak['bf16']:.0f} GFLOP/s; reached: " + ", ".join(
                      f"{k} {r['gflops'][k]:.0f} GFLOP/s = {100 * v['fraction']:.0f}% of {v['precision']} peak"
                      for k, v in r["of_matmul_peak"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=None, help="default: every conf/experiment/*.yaml")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; the median is reported")
    parser.add_argument("--window", type=float, default=4.0, help="seconds per measurement window (approx.)")
    parser.add_argument("--calibration-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--reference-workers", type=int, default=2, help="DataLoader workers of the reference "
                        "loop (pytorch/examples default: 2)")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="also bare loops in fp32 and fp32 + channels_last")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocess on CPU")
    parser.add_argument("--no-peak", action="store_true", help="skip the fp32 / bf16 matmul peak between rounds")
    parser.add_argument("--memory-steps", type=int, default=10)
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for every recipe")
    parser.add_argument("--json", default=str(dated_result("throughput")))
    args = parser.parse_args()

    os.environ.setdefault("WANDB_MODE", "disabled")
    from gan_lab.training.precision import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    results = []
    for recipe in args.recipes or all_recipes():
        print(f"measuring {recipe} ...", file=sys.stderr, flush=True)
        try:
            results.append(measure_recipe(recipe, args, device))
        except Exception as err:  # a recipe whose data or code is missing here: report, go on
            print(f"  {recipe} skipped: {type(err).__name__}: {err}", file=sys.stderr)
            results.append({"recipe": recipe, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"})
    print_table(results, device)
    out = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "window_seconds": args.window,
        "statistic": "median over interleaved rounds; ratios are medians of per-round ratios",
        "results": results,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
