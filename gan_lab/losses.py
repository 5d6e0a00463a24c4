"""Adversarial objectives.

A loss object owns everything that differs between objectives, so the trainer
never asks which one it runs:

    d_loss, logs = loss.discriminator_loss(D, real, fake, cond)
    g_loss, logs = loss.generator_loss(D, fake, cond, real)

`fake` passed to discriminator_loss is already detached. `logs` maps names to
scalar tensors (detached) that the trainer writes to metrics.jsonl.

A lazy regulariser (StyleGAN2's R1 every 16 D steps) is a term the loss adds only on the D steps it chooses:

    penalty = loss.discriminator_penalty(D, real, cond, d_step)   # None, or (term, logs)

d_step counts D updates from 0 over the whole run (a pure function of the step, so a resume keeps the
schedule). The trainer adds the term to that step's discriminator loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.errors import UserError

Logs = dict[str, Tensor]


class AdversarialLoss:
    """Base class. Subclasses implement discriminator_loss and generator_loss."""

    def discriminator_loss(self, D: nn.Module, real: Tensor, fake: Tensor, cond: Tensor | None):
        raise NotImplementedError

    def generator_loss(self, D: nn.Module, fake: Tensor, cond: Tensor | None, real: Tensor):
        raise NotImplementedError

    def discriminator_penalty(self, D: nn.Module, real: Tensor, cond: Tensor | None, d_step: int):
        """A term added to the discriminator loss of D update number d_step only (lazy regularisation),
        with its logs; None on steps without one. No loss has one unless it overrides this."""
        return None

    def check_discriminator(self, D: nn.Module) -> None:
        """Refuse, at start, a discriminator this objective is not valid for (default: any is)."""


class BCELoss(AdversarialLoss):
    """Binary cross-entropy GAN loss with the non-saturating generator objective.

    real_label < 1 gives one-sided label smoothing (Salimans et al. 2016): only
    the real targets of the discriminator are softened, e.g. to 0.9.
    """

    def __init__(self, real_label: float = 1.0):
        if not 0.0 < real_label <= 1.0:
            raise UserError(f"loss.real_label must be in (0, 1], got {real_label}")
        self.real_label = real_label

    def discriminator_loss(self, D, real, fake, cond):
        real_logits = D(real, cond).float()
        fake_logits = D(fake, cond).float()
        loss_real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.real_label))
        loss_fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        loss = loss_real + loss_fake
        logs = {
            "d_loss": loss.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),  # D(x): mean probability on real
            "d_fake": torch.sigmoid(fake_logits).mean().detach(),  # D(G(z)) before the G step
        }
        return loss, logs

    def generator_loss(self, D, fake, cond, real):
        fake_logits = D(fake, cond).float()
        # Non-saturating: maximise log D(G(z)) instead of minimising log(1 - D(G(z))).
        loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        return loss, {"g_loss": loss.detach()}


class HingeLoss(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): D minimises relu(1 - D(x)) + relu(1 + D(G(z))),
    G minimises -D(G(z))."""

    def discriminator_loss(self, D, real, fake, cond):
        real_scores = D(real, cond).float()
        fake_scores = D(fake, cond).float()
        loss = F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()
        logs = {"d_loss": loss.detach(), "d_real": real_scores.mean().detach(), "d_fake": fake_scores.mean().detach()}
        return loss, logs

    def generator_loss(self, D, fake, cond, real):
        loss = -D(fake, cond).float().mean()
        return loss, {"g_loss": loss.detach()}


class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1 (what G wants D to say)."""

    def discriminator_loss(self, D, real, fake, cond):
        real_scores = D(real, cond).float()
        fake_scores = D(fake, cond).float()
        loss = 0.5 * ((real_scores - 1.0) ** 2).mean() + 0.5 * (fake_scores**2).mean()
        logs = {"d_loss": loss.detach(), "d_real": real_scores.mean().detach(), "d_fake": fake_scores.mean().detach()}
        return loss, logs

    def generator_loss(self, D, fake, cond, real):
        loss = 0.5 * ((D(fake, cond).float() - 1.0) ** 2).mean()
        return loss, {"g_loss": loss.detach()}


class Pix2PixLoss(BCELoss):
    """pix2pix (Isola et al. 2017): the BCE GAN loss over a PatchGAN logit map plus lambda_l1 * L1(G(x), y).

    BCE averages over every patch of the map. As in the paper, the discriminator
    objective is halved, which slows D down relative to G; the L1 term is the
    mean absolute error over pixels in [-1, 1], so it pulls G towards the target.
    """

    def __init__(self, lambda_l1: float = 100.0, real_label: float = 1.0):
        super().__init__(real_label=real_label)
        if lambda_l1 < 0:
            raise UserError(f"loss.lambda_l1 must be >= 0, got {lambda_l1}")
        self.lambda_l1 = lambda_l1

    def discriminator_loss(self, D, real, fake, cond):
        loss, logs = super().discriminator_loss(D, real, fake, cond)
        loss = 0.5 * loss
        logs["d_loss"] = loss.detach()
        return loss, logs

    def generator_loss(self, D, fake, cond, real):
        gan, _ = super().generator_loss(D, fake, cond, real)
        l1 = F.l1_loss(fake.float(), real.float())
        loss = gan + self.lambda_l1 * l1
        return loss, {"g_loss": loss.detach(), "g_gan": gan.detach(), "g_l1": l1.detach()}


def input_gradient_norm(D: nn.Module, x: Tensor, cond: Tensor | None, eps: float = 1e-12) -> Tensor:
    """Per-sample L2 norm of dD(x)/dx over all of C, H, W, differentiable (for penalties), in fp32.

    Autocast is switched off: the penalty is a second-order term and bf16/fp16
    gradients are too coarse for it. `eps` inside the square root keeps the
    backward finite when the gradient is exactly zero (d sqrt(s)/ds is infinite
    at s = 0, which would turn every weight gradient into NaN).
    """
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = D(x, cond).float()
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).add(eps).sqrt()


class WassersteinGPLoss(AdversarialLoss):
    """WGAN-GP (Gulrajani et al. 2017): critic maximises E[D(real)] - E[D(fake)], with
    lambda * E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat = a real + (1 - a) fake.

    The weight `a` is drawn per sample and the norm is taken per sample over
    all of C, H, W, as in the paper's Algorithm 1. Logs the Wasserstein estimate
    E[D(real)] - E[D(fake)] (it should fall towards 0 as G improves) and the penalty.
    """

    def __init__(self, gp_weight: float = 10.0, allow_batchnorm_critic: bool = False):
        if gp_weight < 0:
            raise UserError(f"loss.gp_weight must be >= 0, got {gp_weight}")
        self.gp_weight = gp_weight
        self.allow_batchnorm_critic = allow_batchnorm_critic

    def check_discriminator(self, D: nn.Module) -> None:
        """BatchNorm makes each critic output depend on the whole batch, so the per-sample gradient
        norm the penalty constrains is not the critic's (Gulrajani et al. 2017, section 4)."""
        if self.allow_batchnorm_critic or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()):
            return
        raise UserError(
            "loss=wgan_gp needs a critic without BatchNorm (it breaks the per-sample gradient penalty); "
            "set model.discriminator.norm=layer, or loss.allow_batchnorm_critic=true to run it anyway"
        )

    def gradient_penalty(self, D: nn.Module, real: Tensor, fake: Tensor, cond: Tensor | None) -> Tensor:
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        a = torch.rand(shape, device=real.device, dtype=torch.float32)
        interpolates = a * real.detach().float() + (1 - a) * fake.detach().float()
        return (input_gradient_norm(D, interpolates, cond) - 1).pow(2).mean()

    def discriminator_loss(self, D, real, fake, cond):
        wasserstein = D(real, cond).float().mean() - D(fake, cond).float().mean()
        gp = self.gradient_penalty(D, real, fake, cond) if self.gp_weight else torch.zeros((), device=real.device)
        loss = -wasserstein + self.gp_weight * gp
        logs = {"d_loss": loss.detach(), "wasserstein": wasserstein.detach(), "gp": gp.detach()}
        return loss, logs

    def generator_loss(self, D, fake, cond, real):
        loss = -D(fake, cond).float().mean()
        return loss, {"g_loss": loss.detach()}


class R1BCELoss(AdversarialLoss):
    """Non-saturating logistic loss with the R1 penalty (Mescheder et al. 2018), StyleGAN's objective:
    D adds r1_gamma / 2 * E[||grad D(real)||^2] on real images only.

    r1_every=k > 1 is StyleGAN2's lazy regularisation (Karras et al. 2020, sec. 3.1): the penalty only on
    D updates 0, k, 2k, ..., scaled by k so that its average strength is unchanged. It is added to that
    step's D loss, as mmgeneration does; StyleGAN2 runs it as a separate optimiser step with Adam's
    lr and betas adjusted by k / (k + 1), which is not done here.
    """

    def __init__(self, r1_gamma: float = 10.0, r1_every: int = 1):
        if r1_gamma < 0:
            raise UserError(f"loss.r1_gamma must be >= 0, got {r1_gamma}")
        if isinstance(r1_every, bool) or not isinstance(r1_every, int) or r1_every < 1:
            raise UserError(f"loss.r1_every must be an integer >= 1 (1: every D step), got {r1_every!r}")
        self.r1_gamma = r1_gamma
        self.r1_every = r1_every

    def discriminator_loss(self, D, real, fake, cond):
        real_logits = D(real, cond).float()
        fake_logits = D(fake, cond).float()
        # softplus(-x) = -log sigmoid(x), softplus(x) = -log(1 - sigmoid(x)): BCE with targets 1 and 0.
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        logs = {
            "d_loss": loss.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": torch.sigmoid(fake_logits).mean().detach(),
        }
        if self.r1_gamma and self.r1_every == 1:
            r1 = input_gradient_norm(D, real, cond).pow(2).mean()
            loss = loss + 0.5 * self.r1_gamma * r1
            logs["r1"] = r1.detach()
        return loss, logs

    def generator_loss(self, D, fake, cond, real):
        loss = F.softplus(-D(fake, cond).float()).mean()  # non-saturating: -log D(G(z))
        return loss, {"g_loss": loss.detach()}

    def discriminator_penalty(self, D, real, cond, d_step):
        if not self.r1_gamma or self.r1_every == 1 or d_step % self.r1_every:
            return None
        r1 = input_gradient_norm(D, real, cond).pow(2).mean()
        return 0.5 * self.r1_gamma * self.r1_every * r1, {"r1": r1.detach()}
