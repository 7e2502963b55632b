"""Training recipes, registered by name in ``RECIPES`` (in the spirit of BasicSR's models).

A recipe owns what one optimisation step computes and what a checkpoint holds besides the model:

- ``supervised``: the task's loss against the ground truth;
- ``distill``: the task's distillation loss against a teacher's soft targets (a checkpoint, or an
  exported / imported model directory run through the runtime: ``compress/imported_teacher.py``);
- ``pix2pix``: the supervised loss plus a conditional GAN whose discriminator sees
  ``concat(input, output)`` at the same size (pix2pix / pix2pixHD; ``train/gan.py``);
- ``srgan``: the content loss (the task's, L1) plus a least-squares adversarial term from a
  discriminator that sees the output image alone (its size differs from the input's: SRGAN);
- ``dcgan`` / ``wgan_gp``: unconditional image generation (the batch's ``x`` is a latent, ``y`` a
  batch of real images): DCGAN's non-saturating BCE, or WGAN-GP's critic with a gradient penalty
  and ``n_critic`` critic updates per generator update.

The GAN recipes save their discriminator and its optimizer in the checkpoint and resume them.

The trainer (``trainer.py``) calls ``recipe.loss(raw, x, y)`` -> ``(loss, terms)`` for the model's
update (``loss`` None: this step trains only the recipe's own networks), ``recipe.state_dict()`` when it saves and ``recipe.load_state_dict()`` when it resumes.
A new recipe is one class here with ``@RECIPES.register("name")``; a task names the recipe of its
teacher (``Task.teacher_recipe``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

import torch

from ..errors import UserError
from ..registry import Registry

RECIPES = Registry("training recipe")


class Recipe:
    """Base: the task's supervised loss; nothing in the checkpoint besides the model."""

    betas: Tuple[float, float] = (0.9, 0.999)     # Adam's default; GANs use (0.5, 0.999)
    adversarial = False                            # trains a discriminator (`train --no-gan` drops it)

    def __init__(self, task, cfg) -> None:
        self.task, self.cfg = task, cfg

    def describe(self) -> str:
        return "supervised"

    def loss(self, raw, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, float]]:
        """The model's loss for one batch and the named terms to log."""
        return self.task.loss(raw, y), {}

    def state_dict(self) -> Dict[str, Any]:
        """What the checkpoint holds for this recipe (besides model, optimizer, scheduler)."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        pass

    def prepare(self, model: torch.nn.Module) -> None:
        """Change the model in place before training (after its weights are loaded); QAT adds fake quantization."""


RECIPES.register("supervised", Recipe)


@RECIPES.register("distill")
class Distill(Recipe):
    """``alpha * task loss + (1 - alpha) * T^2 * soft-target loss`` against a frozen teacher."""

    def __init__(self, task, cfg) -> None:
        super().__init__(task, cfg)
        if not cfg.teacher:
            raise UserError("the distill recipe needs a teacher (--teacher)")
        from ..compress.imported_teacher import ImportedTeacher, is_model_dir
        from .checkpoint import load_model
        if is_model_dir(cfg.teacher):   # an exported / imported model directory, run by the runtime
            self.teacher = ImportedTeacher(cfg.teacher, task, threads=cfg.threads or None)
        else:                           # a checkpoint
            self.teacher, _ = load_model(Path(cfg.teacher))
            for p in self.teacher.parameters():
                p.requires_grad_(False)

    def describe(self) -> str:
        return f"distill T={self.cfg.temperature:g} from {self.cfg.teacher}"

    def loss(self, raw, x, y):
        with torch.no_grad():
            traw = self._teacher(x)
        return self.task.distill_loss(raw, traw, y, self.cfg.temperature, self.cfg.alpha,
                                      self.cfg.hint_weight), {}

    def _teacher(self, x: torch.Tensor):
        """The teacher on the student's batch; a teacher that needs sides in multiples of ``m``
        (a 256-multiple U-Net under 96-pixel crops) sees the batch reflect-padded, cropped back."""
        import torch.nn.functional as F
        m = int(getattr(self.teacher, "multiple", 1) or 1)
        h, w = x.shape[-2:]
        ph, pw = (-h) % m, (-w) % m
        if not (ph or pw):
            return self.teacher(x)
        mode = "reflect" if ph < h and pw < w else "replicate"
        out = self.teacher(F.pad(x, (0, pw, 0, ph), mode=mode))
        s = int(getattr(self.teacher, "scale", 1) or 1)
        if isinstance(out, (list, tuple)):
            return [t[..., : h * s, : w * s] for t in out]
        return out[..., : h * s, : w * s]


@RECIPES.register("qat")
class QAT(Distill):
    """Quantization-aware fine-tuning (``compress/qat.py``): int8 simulated in every weighted layer,
    the task's distillation loss against the network's own float model (``teacher`` = the
    checkpoint it starts from, T = 1)."""

    def describe(self) -> str:
        return f"quantization-aware fine-tuning (int8 fake quantization) against its float self {self.cfg.teacher}"

    def prepare(self, model: torch.nn.Module) -> None:
        from ..compress.qat import add_fake_quant
        if not add_fake_quant(model):
            raise UserError("QAT: the model has no Conv / ConvTranspose / Linear layer to quantize")


@RECIPES.register("pix2pix")
class Pix2Pix(Recipe):
    """The supervised loss plus the task's conditional GAN (``Task.adversarial``: discriminator,
    gan / feature-matching / pixel weights): one discriminator update per step, then the
    generator's adversarial and feature-matching terms through the updated discriminator."""

    betas = (0.5, 0.999)
    adversarial = True

    def __init__(self, task, cfg) -> None:
        super().__init__(task, cfg)
        if not task.adversarial:
            raise UserError(f"task '{task.name}' has no adversarial (GAN) training: its recipes are "
                            f"supervised and distill")
        from .gan import AdversarialTrainer
        self.gan = AdversarialTrainer(task.adversarial, cfg.lr, betas=self.betas)

    def describe(self) -> str:
        return f"supervised + GAN ({self.task.adversarial['discriminator']})"

    def loss(self, raw, x, y):
        pixel = self.task.loss(raw, y)
        total = self.gan.step(x, self.task.outputs(raw)[0], y, pixel)
        return total, dict(self.gan.last)

    def state_dict(self) -> Dict[str, Any]:
        return {"discriminator": self.gan.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if "discriminator" in state:
            self.gan.load_state_dict(state["discriminator"])


@RECIPES.register("srgan")
class SRGAN(Recipe):
    """SRGAN: ``l1_weight * content + gan_weight * (D(G(x)) - 1)^2``; the discriminator (on the
    image alone, sigmoid output) learns ``[(D(y) - 1)^2 + D(G(x))^2] / 2`` (least-squares labels)."""

    adversarial = True

    def __init__(self, task, cfg) -> None:
        super().__init__(task, cfg)
        adv = task.adversarial or {}
        if not adv.get("discriminator"):
            raise UserError(f"task '{task.name}' names no discriminator for the srgan recipe")
        from .gan import Discriminator
        self.disc = Discriminator(adv["discriminator"], cfg.lr, self.betas)
        self.gan_weight = float(adv.get("gan_weight", 1e-3))
        self.l1_weight = float(adv.get("l1_weight", 1.0))

    def describe(self) -> str:
        return f"content L1 + least-squares GAN ({self.disc.arch}, weight {self.gan_weight:g})"

    def loss(self, raw, x, y):
        import torch.nn.functional as F
        fake = self.task.outputs(raw)[0]
        d_real, d_fake = self.disc(y), self.disc(fake.detach())
        d_loss = 0.5 * (F.mse_loss(d_real, torch.ones_like(d_real)) + F.mse_loss(d_fake, torch.zeros_like(d_fake)))
        self.disc.update(d_loss)
        with self.disc.frozen():              # the generator's term must not train D
            g_fake = self.disc(fake)
        adv = F.mse_loss(g_fake, torch.ones_like(g_fake))
        content = self.task.loss(raw, y)
        terms = {"d_loss": d_loss.item(), "g_adv": adv.item(), "g_content": content.item()}
        return self.l1_weight * content + self.gan_weight * adv, terms

    def state_dict(self) -> Dict[str, Any]:
        return {"discriminator": self.disc.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if "discriminator" in state:
            self.disc.load_state_dict(state["discriminator"])


class _LatentGAN(Recipe):
    """Shared by the generation recipes: the critic / discriminator (``Task.adversarial``'s
    ``discriminator``) with its own Adam optimizer, saved and resumed with the checkpoint."""

    betas = (0.5, 0.999)
    adversarial = True

    def __init__(self, task, cfg) -> None:
        super().__init__(task, cfg)
        adv = task.adversarial or {}
        if not adv.get("discriminator"):
            raise UserError(f"task '{task.name}' names no critic for the {type(self).__name__} recipe")
        from .gan import Discriminator
        self.adv = adv
        self.disc = Discriminator(adv["discriminator"], float(adv.get("critic_lr", cfg.lr)),
                                  tuple(adv.get("betas", self.betas)))

    def state_dict(self) -> Dict[str, Any]:
        return {"discriminator": self.disc.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if "discriminator" in state:
            self.disc.load_state_dict(state["discriminator"])


@RECIPES.register("dcgan")
class DCGAN(_LatentGAN):
    """DCGAN: the discriminator learns BCE(D(real), 1) + BCE(D(G(z)), 0); the generator the
    non-saturating BCE(D(G(z)), 1). One update of each per step."""

    def describe(self) -> str:
        return f"DCGAN (non-saturating BCE; discriminator {self.disc.arch})"

    def loss(self, raw, x, y):
        import torch.nn.functional as F
        fake = self.task.outputs(raw)[0]
        d_real, d_fake = self.disc(y), self.disc(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
            F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        self.disc.update(d_loss)
        with self.disc.frozen():
            g = self.disc(fake)
        g_loss = F.binary_cross_entropy_with_logits(g, torch.ones_like(g))
        return g_loss, {"d_loss": d_loss.item(), "d_real": torch.sigmoid(d_real).mean().item()}


@RECIPES.register("wgan_gp")
class WGANGP(_LatentGAN):
    """WGAN-GP (Gulrajani et al. 2017): the critic minimises ``D(G(z)) - D(real) + gp_weight *
    (||grad D(x_hat)|| - 1)^2`` at random interpolates ``x_hat`` of real and fake (plus a tiny
    drift term ``1e-3 D(real)^2`` that keeps scores near 0); every ``n_critic``-th step the
    generator also takes its step on ``-D(G(z))``. The trainer's steps count critic updates."""

    betas = (0.0, 0.9)       # the paper's Adam settings

    def describe(self) -> str:
        return (f"WGAN-GP (critic {self.disc.arch}, n_critic {self.n_critic}, "
                f"gradient penalty {self.gp_weight:g})")

    @property
    def n_critic(self) -> int:
        return int(self.adv.get("n_critic", 5))

    @property
    def gp_weight(self) -> float:
        return float(self.adv.get("gp_weight", 10.0))

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        eps = torch.rand(real.shape[0], 1, 1, 1, dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.disc(x_hat).sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()

    def loss(self, raw, x, y):
        fake = self.task.outputs(raw)[0]
        d_real, d_fake = self.disc(y), self.disc(fake.detach())
        gp = self.gradient_penalty(y, fake.detach())
        wdist = d_real.mean() - d_fake.mean()
        self.disc.update(-wdist + self.gp_weight * gp + 1e-3 * (d_real ** 2).mean())
        self.critic_steps += 1
        terms = {"w_dist": wdist.item(), "gp": gp.item()}
        if self.critic_steps % self.n_critic:
            return None, terms     # the trainer logs ``last_loss``, the generator's latest
        with self.disc.frozen():
            g_loss = -self.disc(fake).mean()
        self.last_loss = g_loss.item()
        return g_loss, terms

    critic_steps = 0
    last_loss = 0.0

    def state_dict(self) -> Dict[str, Any]:
        return {**super().state_dict(), "critic_steps": self.critic_steps}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.critic_steps = int(state.get("critic_steps", 0))


def recipe_name(cfg) -> str:
    """The config's recipe, or the default: ``distill`` with a teacher, else ``supervised``."""
    return cfg.recipe or ("distill" if cfg.teacher else "supervised")


def make_recipe(task, cfg) -> Recipe:
    return RECIPES.get(recipe_name(cfg))(task, cfg)
