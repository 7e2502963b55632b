"""DCGAN generators and critics at 64x64 (Radford et al. 2016), for DCGAN and WGAN-GP training.

- Generator: the latent ``z`` (``latent`` values, optionally plus a learned style embedding) ->
  4x4 transposed conv to ``8 ngf`` x 4 x 4 -> three stride-2 4x4 transposed convs halving the
  width (``4 ngf``, ``2 ngf``, ``ngf``; BatchNorm + ReLU) -> a stride-2 4x4 transposed conv to RGB,
  tanh: 64 x 64 in [-1, 1]. ``dcgan_g`` (ngf 64, latent 100) is the published 3.6 M-parameter
  generator; ``dcgan_g_lite`` (ngf 32, latent 128) is what trains on 2 CPU cores.
- Critic / discriminator: stride-2 4x4 convs ``ndf``, ``2 ndf``, ``4 ndf``, ``8 ndf`` with
  LeakyReLU(0.2), then a 4x4 conv to one score. ``norm="batch"`` is DCGAN's discriminator (its
  output goes through a sigmoid in the loss); WGAN-GP's critic must not use batch statistics (the
  gradient penalty is per sample), so ``norm="layer"`` (GroupNorm with one group), or ``"none"``.

The generator's input is a 2-D ``N x latent`` tensor (layout ``NC`` in the manifest); the first
transposed conv on a 1x1 map is written as a Linear layer + reshape, which every exporter maps to
a MatMul. ``styles`` > 0 adds an embedding of an integer style id (ArtBench-10's 10 styles) that
is added to ``z``: a conditional generator takes ``z`` and the style one-hot, concatenated.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from . import ARCHS
from ..registry import lazy_call


# ---------------------------------------------------------------- blocks
def up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "layer":
        return nn.GroupNorm(1, ch)
    return nn.Identity()


def down_block(cin: int, cout: int, norm: str) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=norm == "none"), _norm(norm, cout),
                         nn.LeakyReLU(0.2, inplace=True))


# ---------------------------------------------------------------- models
class DCGANGenerator(nn.Module):
    """``N x (latent + styles)`` -> ``N x 3 x 64 x 64`` in [-1, 1]."""

    def __init__(self, latent: int = 100, ngf: int = 64, styles: int = 0) -> None:
        super().__init__()
        self.latent, self.styles, self.ngf = latent, styles, ngf
        # the 4x4 transposed conv on a 1x1 input == a Linear to 8 ngf x 4 x 4
        self.project = nn.Linear(latent + styles, 8 * ngf * 16, bias=False)
        self.bn0 = nn.BatchNorm2d(8 * ngf)
        self.body = nn.Sequential(up_block(8 * ngf, 4 * ngf), up_block(4 * ngf, 2 * ngf), up_block(2 * ngf, ngf))
        self.to_rgb = nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False)
        self.size = 64
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], 8 * self.ngf, 4, 4)
        h = torch.relu(self.bn0(h))
        return torch.tanh(self.to_rgb(self.body(h)))


class DCGANCritic(nn.Module):
    """``N x 3 x 64 x 64`` -> ``N`` scores (a logit for DCGAN, a critic value for WGAN-GP)."""

    def __init__(self, ndf: int = 64, norm: str = "batch", in_ch: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),   # no norm on the first layer
            down_block(ndf, 2 * ndf, norm), down_block(2 * ndf, 4 * ndf, norm), down_block(4 * ndf, 8 * ndf, norm))
        self.score = nn.Conv2d(8 * ndf, 1, 4, 1, 0)
        self.apply(dcgan_init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last 4x4 feature map, pooled (``8 ndf`` values per image): the embedding the
        mode-collapse detector and the in-house KID use."""
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.body(x)).flatten()


def dcgan_init(m: nn.Module) -> None:
    """DCGAN's initialisation: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# ---------------------------------------------------------------- variants
GENERATORS = {
    "dcgan_g": dict(latent=100, ngf=64),        # the published DCGAN generator, 3.6 M params
    "dcgan_g_l128": dict(latent=128, ngf=64),   # the same on the generate task's 128-value latent (3.8 M)
    "dcgan_g_lite": dict(latent=128, ngf=32),
}
CRITICS = {
    "dcgan_d": dict(ndf=64, norm="batch"),
    "dcgan_d_lite": dict(ndf=32, norm="batch"),
    "wgan_critic": dict(ndf=64, norm="layer"),
    "wgan_critic_lite": dict(ndf=32, norm="layer"),
}

for _name, _kw in GENERATORS.items():
    ARCHS.register(_name, lazy_call(DCGANGenerator, **_kw))
for _name, _kw in CRITICS.items():
    ARCHS.register(_name, lazy_call(DCGANCritic, **_kw))
