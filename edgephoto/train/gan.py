"""The GAN step of the trainer: pix2pixHD's multi-scale discriminator losses.

- Discriminator: LSGAN (least squares) on concat(input, image) at every scale,
  ``sum_k [ (D_k(x, y) - 1)^2 + D_k(x, G(x))^2 ] / 2``.
- Generator: ``gan_weight * sum_k (D_k(x, G(x)) - 1)^2``
  + ``fm_weight * sum_k sum_i w_i * L1(D_k^i(x, G(x)), D_k^i(x, y))`` over the intermediate layers
  (pix2pixHD's feature matching, ``w_i = 4 / (n_layers + 1)``, averaged over the scales)
  + ``l1_weight * L1(G(x), y)`` (the task's pixel loss).
The discriminator has its own Adam optimizer; both are saved in the checkpoint and resumed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

import torch
import torch.nn.functional as F

from ..models import create_model


def lsgan(logits: List[List[torch.Tensor]], real: bool) -> torch.Tensor:
    """Least-squares GAN loss summed over the scales (last layer of each discriminator)."""
    target = 1.0 if real else 0.0
    return sum(F.mse_loss(scale[-1], torch.full_like(scale[-1], target)) for scale in logits)


def feature_matching(fake: List[List[torch.Tensor]], real: List[List[torch.Tensor]]) -> torch.Tensor:
    """pix2pixHD's feature-matching loss: L1 between the intermediate layers, real side detached."""
    n_d = len(fake)
    loss = fake[0][0].new_zeros(())
    for f_scale, r_scale in zip(fake, real):
        w = 4.0 / len(f_scale)   # = 4 / (n_layers + 1): pix2pixHD's layer weight
        for f, r in zip(f_scale[:-1], r_scale[:-1]):
            loss = loss + w / n_d * F.l1_loss(f, r.detach())
    return loss


class Discriminator:
    """A GAN recipe's discriminator with its own Adam optimizer: ``update(loss)`` trains it,
    ``frozen()`` lets the generator's terms through it without training it, and its state (arch,
    weights, optimizer) is what the checkpoint holds under ``"discriminator"``."""

    def __init__(self, arch: str, lr: float, betas=(0.5, 0.999)) -> None:
        self.arch = arch
        self.net = create_model(arch)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas)

    def __call__(self, x: torch.Tensor):
        return self.net(x)

    def update(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    @contextmanager
    def frozen(self) -> Iterator[None]:
        for p in self.net.parameters():
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in self.net.parameters():
                p.requires_grad_(True)

    def state_dict(self) -> Dict[str, Any]:
        return {"arch": self.arch, "model": self.net.state_dict(), "optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])


class AdversarialTrainer:
    """Owns the discriminator and its optimizer; ``step`` does one D update and returns G's loss."""

    def __init__(self, cfg: Dict[str, Any], lr: float, betas=(0.5, 0.999)) -> None:
        self.cfg = cfg
        self.disc = Discriminator(cfg["discriminator"], lr, betas)
        self.gan_weight = float(cfg.get("gan_weight", 1.0))
        self.fm_weight = float(cfg.get("fm_weight", 10.0))
        self.l1_weight = float(cfg.get("l1_weight", 1.0))
        self.last: Dict[str, float] = {}

    def step(self, x: torch.Tensor, fake: torch.Tensor, real: torch.Tensor, pixel_loss: torch.Tensor) -> torch.Tensor:
        # discriminator update on the detached fake
        d_fake = self.disc(torch.cat([x, fake.detach()], 1))
        d_real = self.disc(torch.cat([x, real], 1))
        d_loss = 0.5 * (lsgan(d_fake, False) + lsgan(d_real, True))
        self.disc.update(d_loss)
        # generator terms, through the updated discriminator
        with self.disc.frozen():
            g_fake = self.disc(torch.cat([x, fake], 1))
            with torch.no_grad():
                g_real = self.disc(torch.cat([x, real], 1))
        gan = lsgan(g_fake, True)
        fm = feature_matching(g_fake, g_real)
        self.last = {"d_loss": d_loss.item(), "g_gan": gan.item(), "g_fm": fm.item(),
                     "g_pixel": pixel_loss.item()}
        return self.gan_weight * gan + self.fm_weight * fm + self.l1_weight * pixel_loss

    def state_dict(self) -> Dict[str, Any]:
        return self.disc.state_dict()

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.disc.load_state_dict(state)
