"""pix2pixHD (Wang et al., 2018) for auto retouching: coarse-to-fine generator + multi-scale PatchGAN.

Generator (``Pix2PixHDGenerator``):

- **G1, the global generator** runs on the input downsampled 2x (3x3 average pool, stride 2): a 7x7
  conv front end, ``n_down`` stride-2 convs, ``n_blocks`` residual blocks, ``n_down`` transposed
  convs back. Trained alone first, G1 has its own 7x7 to-RGB head whose output is upsampled 2x.
- **G2, the local enhancer** at full resolution: a 7x7 conv + one stride-2 conv front end whose
  output is *summed* with G1's last feature map, then ``n_local_blocks`` residual blocks and one
  transposed conv back to full resolution, then the 7x7 to-RGB head.
- The residual blocks are pix2pixHD's (reflect-pad 3x3 conv, norm, ReLU, twice, plus the input)
  or, with ``block="rsu"``, U2-Net's ReSidual U-block RSU-4 in a residual connection, as the
  retouching document builds its generator.
- Training order as published: ``set_phase("global")`` trains G1 alone, ``"local"`` trains G2 with
  G1 frozen, ``"joint"`` fine-tunes both (the default, and what is exported).

Images are in [-1, 1] (mean 0.5, std 0.5). The published head ends in ``tanh``; ``residual=True``
predicts a correction added to the input instead, which converges much faster on retouching, where
the output is close to the input (our CPU-trainable variants use it).

Discriminator (``MultiscaleDiscriminator``): ``num_d`` PatchGANs of identical structure (4x4 convs,
stride 2, LeakyReLU 0.2, ``n_layers`` deep) on concat(input, image) at 1x, 1/2 and 1/4 scale;
``forward`` returns every layer's activations per scale, for the GAN loss (last layer) and the
feature-matching loss (the others).

Variants: ``pix2pixhd`` (the published local-enhancer configuration: ngf 32, G1 at ngf 64 with 4
downsamplings and 9 blocks, 3 local blocks, instance norm, tanh), ``pix2pixhd_lite`` and
``pix2pixhd_rsu_lite`` (CPU-trainable teachers), ``patchgan_ms3`` / ``patchgan_ms3_lite``.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ARCHS
from ..registry import lazy_call
from .u2net import RSU

PHASES = ("global", "local", "joint")


def norm_layer(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}' (batch, instance, none)")


# ---------------------------------------------------------------- blocks
class ResnetBlock(nn.Module):
    """pix2pixHD's residual block: x + [pad, conv3x3, norm, ReLU, pad, conv3x3, norm](x)."""

    def __init__(self, dim: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm_layer(norm, dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm_layer(norm, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class RSUResBlock(nn.Module):
    """x + RSU-4(x): the document's generator block (U2-Net's ReSidual U-block, BatchNorm inside)."""

    def __init__(self, dim: int, norm: str = "batch", height: int = 4) -> None:
        super().__init__()
        self.rsu = RSU(height, dim, max(dim // 2, 4), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rsu(x)


BLOCKS = {"resnet": ResnetBlock, "rsu": RSUResBlock}


def _front(cin: int, cout: int, norm: str) -> List[nn.Module]:
    return [nn.ReflectionPad2d(3), nn.Conv2d(cin, cout, 7), norm_layer(norm, cout), nn.ReLU(True)]


def _down(cin: int, cout: int, norm: str) -> List[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=2, padding=1), norm_layer(norm, cout), nn.ReLU(True)]


def _up(cin: int, cout: int, norm: str) -> List[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
            norm_layer(norm, cout), nn.ReLU(True)]


class ToRGB(nn.Module):
    """7x7 conv to 3 channels; tanh (published) or a correction added to the input (residual)."""

    def __init__(self, cin: int, out_ch: int, residual: bool) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(cin, out_ch, 7))
        self.residual = residual
        if residual:   # start as the identity (output = input): retouching is a small correction
            nn.init.zeros_(self.conv[1].weight)
            nn.init.zeros_(self.conv[1].bias)

    def forward(self, feat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(feat)
        # residual: the correction is added to the photo's channels (extra context channels are not output)
        return x[:, :y.shape[1]] + y if self.residual else torch.tanh(y)


class GlobalGenerator(nn.Module):
    """G1 without its head: front end, ``n_down`` downsamplings, residual blocks, upsamplings."""

    def __init__(self, in_ch: int, ngf: int, n_down: int, n_blocks: int, norm: str, block: str) -> None:
        super().__init__()
        layers = _front(in_ch, ngf, norm)
        for i in range(n_down):
            layers += _down(ngf * 2 ** i, ngf * 2 ** (i + 1), norm)
        deep = ngf * 2 ** n_down
        layers += [BLOCKS[block](deep, norm) for _ in range(n_blocks)]
        for i in range(n_down, 0, -1):
            layers += _up(ngf * 2 ** i, ngf * 2 ** (i - 1), norm)
        self.body = nn.Sequential(*layers)
        self.out_channels = ngf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's input pyramid step: 3x3 average pool, stride 2, padding not counted."""
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


# ---------------------------------------------------------------- generator
class Pix2PixHDGenerator(nn.Module):
    """G1 (global, half resolution) + G2 (local enhancer, full resolution); see the module doc."""

    def __init__(self, in_ch: int = 3, out_ch: int = 3, ngf: int = 32, global_ngf: int | None = None,
                 n_down: int = 4, n_blocks: int = 9, n_local_blocks: int = 3, norm: str = "instance",
                 block: str = "resnet", residual: bool = False) -> None:
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"unknown block '{block}' ({', '.join(BLOCKS)})")
        global_ngf = global_ngf or 2 * ngf
        self.residual = residual
        self.g1 = GlobalGenerator(in_ch, global_ngf, n_down, n_blocks, norm, block)
        self.g1_head = ToRGB(global_ngf, out_ch, residual)     # used while G1 trains alone
        self.g2_front = nn.Sequential(*_front(in_ch, ngf, norm), *_down(ngf, global_ngf, norm))
        self.g2_back = nn.Sequential(*[BLOCKS[block](global_ngf, norm) for _ in range(n_local_blocks)],
                                     *_up(global_ngf, ngf, norm))
        self.head = ToRGB(ngf, out_ch, residual)
        self.phase = "joint"
        self.multiple = 2 ** (n_down + 1)   # input sides are padded to this (then cropped back)

    def set_phase(self, phase: str) -> None:
        """``global``: G1 alone; ``local``: G2 with G1 frozen; ``joint``: both (pix2pixHD's order)."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase '{phase}' ({', '.join(PHASES)})")
        self.phase = phase
        for p in self.g1.parameters():
            p.requires_grad_(phase != "local")
        for m in (self.g2_front, self.g2_back, self.head):
            for p in m.parameters():
                p.requires_grad_(phase != "global")
        for p in self.g1_head.parameters():
            p.requires_grad_(phase == "global")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:   # any size in, same size out
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        xd = downsample2x(x)
        g1 = self.g1(xd)
        if self.phase == "global":
            y = F.interpolate(self.g1_head(g1, xd), scale_factor=2, mode="bilinear", align_corners=False)
        else:
            y = self.head(self.g2_back(self.g2_front(x) + g1), x)
        return y[:, :, :h, :w]


# ---------------------------------------------------------------- discriminator
class NLayerDiscriminator(nn.Module):
    """PatchGAN: 4x4 convs (stride 2 then 1), LeakyReLU 0.2; returns every layer's output."""

    def __init__(self, in_ch: int = 6, ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        kw, pad = 4, 2
        seq = [[nn.Conv2d(in_ch, ndf, kw, stride=2, padding=pad), nn.LeakyReLU(0.2, True)]]
        nf = ndf
        for _ in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            seq.append([nn.Conv2d(prev, nf, kw, stride=2, padding=pad), norm_layer(norm, nf),
                        nn.LeakyReLU(0.2, True)])
        prev, nf = nf, min(nf * 2, 512)
        seq.append([nn.Conv2d(prev, nf, kw, stride=1, padding=pad), norm_layer(norm, nf),
                    nn.LeakyReLU(0.2, True)])
        seq.append([nn.Conv2d(nf, 1, kw, stride=1, padding=pad)])
        self.layers = nn.ModuleList(nn.Sequential(*s) for s in seq)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` identical PatchGANs on the (condition, image) pair at 1x, 1/2, 1/4, ... scale."""

    def __init__(self, in_ch: int = 6, ndf: int = 64, n_layers: int = 3, num_d: int = 3,
                 norm: str = "instance") -> None:
        super().__init__()
        self.nets = nn.ModuleList(NLayerDiscriminator(in_ch, ndf, n_layers, norm) for _ in range(num_d))

    def forward(self, x: torch.Tensor) -> List[List[torch.Tensor]]:
        """-> per scale (finest first), the list of layer outputs (last = patch logits)."""
        out = []
        for i, net in enumerate(self.nets):
            if i:
                x = downsample2x(x)
            out.append(net(x))
        return out


# ---------------------------------------------------------------- variants
VARIANTS = {
    # the published local-enhancer configuration (pix2pixHD's defaults with one local enhancer)
    "pix2pixhd": dict(ngf=32, global_ngf=64, n_down=4, n_blocks=9, n_local_blocks=3, norm="instance",
                      block="resnet", residual=False),
    # CPU-trainable teachers: BatchNorm (folds into convs for export), residual head
    "pix2pixhd_lite": dict(ngf=16, global_ngf=32, n_down=3, n_blocks=6, n_local_blocks=2, norm="batch",
                           block="resnet", residual=True),
    # pix2pixhd_lite whose input also carries the global context (thumbnail + position, 8 channels)
    "pix2pixhd_lite_ctx": dict(in_ch=8, ngf=16, global_ngf=32, n_down=3, n_blocks=6, n_local_blocks=2,
                               norm="batch", block="resnet", residual=True),
    "pix2pixhd_rsu_lite": dict(ngf=16, global_ngf=32, n_down=3, n_blocks=4, n_local_blocks=2, norm="batch",
                               block="rsu", residual=True),
}
DISCRIMINATORS = {
    "patchgan_ms3": dict(ndf=64, n_layers=3, num_d=3, norm="instance"),
    # BatchNorm: instance norm is ~40x slower on the CPU at these sizes
    "patchgan_ms3_lite": dict(ndf=16, n_layers=3, num_d=3, norm="batch"),
    # for generators with context input: sees input (8 channels) + output (3)
    "patchgan_ms3_lite_ctx": dict(in_ch=11, ndf=16, n_layers=3, num_d=3, norm="batch"),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(Pix2PixHDGenerator, **_kw))
for _name, _kw in DISCRIMINATORS.items():
    ARCHS.register(_name, lazy_call(MultiscaleDiscriminator, **_kw))
