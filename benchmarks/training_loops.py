"""The training loops the throughput benchmarks time side by side, and how they are timed.

- GanLabLoop: the gan_lab Trainer (Trainer.fit with only the step, the metrics record and the signal check);
- BareLoop: the same models, losses, precision and in-memory batches in a plain loop (the overhead baseline);
- ReferenceLoop: the pytorch/examples DCGAN loop (fp32, a DataLoader with per-item transforms).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"


# -- configs ---------------------------------------------------------------------
def compose(recipe: str, overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import gan_lab.config  # noqa: F401  registers the schemas the recipes extend

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
        tcfg.max_epochs, tcfg.max_steps = None, tcfg.max_steps or 1  # run() sets the steps
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


def gflop_per_image(loop: Loop) -> float:
    """GFLOP one training step of `loop` costs per discriminator image (torch.utils.flop_counter, multiply-add = 2).

    Runs one step under the counter; forward and backward of both networks are counted, optimizer updates not.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loop.run(1)
    return counter.get_total_flops() / loop.images_per_step / 1e9


def loop_precision(loop: Loop) -> str:
    """fp32 / bf16 / fp16: which matmul peak the loop is held against."""
    precision = getattr(loop, "precision", "fp32")
    return precision if isinstance(precision, str) else precision.name
