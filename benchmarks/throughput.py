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
import copy
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.results_file import dated_result  # noqa: E402

CONF_DIR = REPO / "conf"


# -- configs ---------------------------------------------------------------------
def compose(recipe: str, overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=[f"experiment={recipe}", "logger=none", *overrides])


def all_recipes() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


# -- the loops -------------------------------------------------------------------
class Loop:
    """A training loop that can run `steps` more steps; images counts discriminator images."""

    name = "loop"
    images_per_step = 0

    def run(self, steps: int) -> None:
        raise NotImplementedError


class GanLabLoop(Loop):
    name = "gan_lab"

    def __init__(self, cfg, run_dir: Path, device: torch.device):
        import dataclasses

        from omegaconf import OmegaConf

        from gan_lab.config import validate_trainer
        from gan_lab.tracking import Tracker
        from gan_lab.training.callbacks import MetricsLog, SignalStop
        from gan_lab.training.precision import resolve_precision
        from gan_lab.training.run import build_parts
        from gan_lab.training.trainer import RunContext, Trainer

        tcfg = validate_trainer(cfg.trainer)
        tcfg.precision = resolve_precision(tcfg.precision, device)
        tcfg.max_epochs = None
        # No LR schedule, as in the bare loop it is compared with.
        parts = dataclasses.replace(build_parts(cfg), scheduler_factories=(None, None))
        self.data = parts.data
        config_dict = OmegaConf.to_container(cfg, resolve=True)
        run = RunContext(run_dir, Tracker(run_dir, None, config_dict), device, int(cfg.seed), config_dict)
        # The step, the metrics record and the signal check; grids, checkpoints and evaluation are not
        # training, so a window of steps does not pay for them.
        self.trainer = Trainer(tcfg, parts, run, callbacks=[MetricsLog(tcfg.log_every), SignalStop()])
        self.images_per_step = tcfg.batch_size * tcfg.n_critic
        self.precision = tcfg.precision
        self.channels_last = bool(tcfg.channels_last)
        self.cfg = cfg
        self.device = device

    def run(self, steps: int) -> None:
        self.trainer.max_steps = self.trainer.step + steps
        self.trainer.fit()


class BareLoop(Loop):
    """The trainer's algorithm with nothing else: same models (copied), losses, precision and batches."""

    name = "bare"

    def __init__(self, base: GanLabLoop, precision: str | None = None, channels_last: bool | None = None):
        """precision / channels_last other than the recipe's give the breakdown loops (bare_fp32, ...)."""
        from gan_lab.build import build_optimizers
        from gan_lab.training.precision import Precision

        t = base.trainer
        if precision is not None or channels_last is not None:
            self.name = f"bare_{precision}" + ("_cl" if channels_last else "")
        channels_last = base.channels_last if channels_last is None else channels_last
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.G = copy.deepcopy(t.G).to(memory_format=self.memory_format)
        self.D = copy.deepcopy(t.D).to(memory_format=self.memory_format)
        self.opt_g, self.opt_d = build_optimizers(base.cfg, self.G, self.D)
        self.loss, self.data, self.device = t.loss, base.data, base.device
        self.precision = Precision(precision or base.precision, base.device)
        self.scaler_g, self.scaler_d = self.precision.make_scaler(), self.precision.make_scaler()
        self.batch_size, self.n_critic = t.batch_size, t.cfg.n_critic
        self.latent_dim = t.latent_dim
        self.images_per_step = self.batch_size * self.n_critic
        self.G.train()
        self.D.train()

    def step(self) -> None:
        for _ in range(self.n_critic):
            idx = torch.randint(len(self.data), (self.batch_size,))
            batch = self.data.get_batch(idx).to(self.device, self.memory_format)
            z = torch.randn(self.batch_size, self.latent_dim, device=self.device) if self.latent_dim else None
            with self.precision.autocast():
                fake = self.G(z, batch.cond)
                d_loss, _ = self.loss.discriminator_loss(self.D, batch.real, fake.detach(), batch.cond)
            self.opt_d.zero_grad(set_to_none=True)
            self.scaler_d.scale(d_loss).backward()
            self.scaler_d.step(self.opt_d)
            self.scaler_d.update()
        self.D.requires_grad_(False)
        with self.precision.autocast():
            g_loss, _ = self.loss.generator_loss(self.D, fake, batch.cond, batch.real)
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(g_loss).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self.D.requires_grad_(True)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()


def reference_models(nz: int = 100, ngf: int = 64, ndf: int = 64, nc: int = 1) -> tuple[nn.Module, nn.Module]:
    """pytorch/examples dcgan/main.py netG / netD, one block shallower for 32x32 images."""

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    netG = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
    )
    netD = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )
    netG.apply(weights_init)
    netD.apply(weights_init)
    return netG, netD


class ReferenceLoop(Loop):
    """The pytorch/examples DCGAN training loop (fp32, DataLoader with per-item transforms)."""

    name = "reference"

    def __init__(self, data_root: str, batch_size: int, image_size: int, workers: int, device: torch.device):
        import torchvision.transforms as T
        from torchvision.datasets import MNIST

        transform = T.Compose(
            [T.Resize(image_size), T.CenterCrop(image_size), T.ToTensor(), T.Normalize((0.5,), (0.5,))]
        )
        dataset = MNIST(data_root, train=True, download=False, transform=transform)
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)
        self.iterator = iter(self.loader)
        self.device = device
        self.netG, self.netD = (m.to(device) for m in reference_models())
        self.criterion = nn.BCELoss()
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.images_per_step = batch_size
        self.workers = workers

    def _next(self):
        try:
            return next(self.iterator)
        except StopIteration:  # a new epoch, as the examples' `for epoch: for data in dataloader`
            self.iterator = iter(self.loader)
            return next(self.iterator)

    def run(self, steps: int) -> None:
        netG, netD, criterion, device = self.netG, self.netD, self.criterion, self.device
        for _ in range(steps):
            data = self._next()
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real_cpu = data[0].to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), 1.0, dtype=real_cpu.dtype, device=device)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b_size, 100, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(0.0)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            self.optimizerD.step()
            # (2) Update G network: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(1.0)
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            self.optimizerG.step()
            _ = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)  # the examples print these every step


# -- measurement -----------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(loop: Loop, steps: int, device: torch.device) -> tuple[float, float, int | None]:
    """(images per wall-clock second, images per CPU second of this process, peak CUDA bytes or None).

    CPU time does not count the time the process waits for a core, so on a loaded machine it is the
    steadier measure of work done; it misses DataLoader worker processes (which favours the reference).
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    loop.run(steps)
    sync(device)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    images = steps * loop.images_per_step
    return images / seconds, images / max(cpu_seconds, 1e-9), peak


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
        steps = {}
        for loop in loops:
            loop.run(1)
            rate, _, _ = timed(loop, args.calibration_steps, device)
            steps[loop.name] = max(2, round(args.window * rate / loop.images_per_step))
        rates: dict[str, list[float]] = {loop.name: [] for loop in loops}
        cpu_rates: dict[str, list[float]] = {loop.name: [] for loop in loops}
        peaks: dict[str, int] = {}
        for r in range(args.repeats):
            order = loops[r % len(loops):] + loops[: r % len(loops)]  # rotate who goes first
            for loop in order:
                rate, cpu_rate, peak = timed(loop, steps[loop.name], device)
                rates[loop.name].append(rate)
                cpu_rates[loop.name].append(cpu_rate)
                if peak is not None:
                    peaks[loop.name] = max(peaks.get(loop.name, 0), peak)
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
        "cpu": platform.processor() or platform.machine(),
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
