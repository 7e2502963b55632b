"""pix2pix's U-Net generator (Isola et al., 2017) and its 70x70 PatchGAN, for deblurring.

- ``pix2pix_unet256`` (as published, 54.4 M params): encoder C64-C128-C256-C512-C512-C512-C512-C512
  (4x4 convs, stride 2, LeakyReLU 0.2, BatchNorm except on the first and the innermost), decoder
  mirrored with transposed convs, BatchNorm, ReLU and skip concatenations, dropout 0.5 on the three
  512-channel blocks after the innermost one, and a tanh output. Eight halvings: inputs are
  multiples of 256.
- ``pix2pix_unet256_lite``: the same at a quarter of the width (a teacher the CPU trains).
- ``unet_s``: the student, a 5-level U-Net at width 16 with a residual output (the sharp image is
  the blurred one plus a correction), fully convolutional on multiples of 32.
- ``patchgan70`` / ``patchgan70_lite``: the 70x70 PatchGAN on ``concat(input, image)`` (pix2pixHD's
  ``NLayerDiscriminator`` with 3 layers at one scale), in the multi-scale format the ``pix2pix``
  recipe reads.

Images are in [-1, 1] (mean 0.5, std 0.5).
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn

from . import ARCHS
from ..registry import lazy_call
from .pix2pixhd import MultiscaleDiscriminator


# ---------------------------------------------------------------- blocks
def down(cin: int, cout: int, norm: bool, act: bool = True) -> nn.Sequential:
    """[LeakyReLU 0.2] -> 4x4 conv stride 2 -> [BatchNorm] (pix2pix's encoder step)."""
    layers: List[nn.Module] = [nn.LeakyReLU(0.2, inplace=False)] if act else []
    layers += [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


def up(cin: int, cout: int, dropout: bool) -> nn.Sequential:
    """ReLU -> 4x4 transposed conv stride 2 -> BatchNorm [-> Dropout 0.5] (pix2pix's decoder step)."""
    layers: List[nn.Module] = [nn.ReLU(inplace=False), nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
                               nn.BatchNorm2d(cout)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- models
class UNetGenerator(nn.Module):
    """pix2pix's U-Net: ``len(widths)`` halvings, skips by concatenation, tanh (or residual) output."""

    def __init__(self, widths=(64, 128, 256, 512, 512, 512, 512, 512), dropout_blocks: int = 3,
                 residual: bool = False, in_ch: int = 3, out_ch: int = 3) -> None:
        super().__init__()
        n = len(widths)
        self.encoder = nn.ModuleList(
            [down(in_ch, widths[0], norm=False, act=False)]
            + [down(widths[i - 1], widths[i], norm=i < n - 1) for i in range(1, n)])
        # decoder, innermost first: block j maps to widths[n - 2 - j] channels
        dec = [up(widths[-1], widths[-2], dropout=False)]
        for j in range(1, n - 1):
            cin, cout = 2 * widths[n - 1 - j], widths[n - 2 - j]
            dec.append(up(cin, cout, dropout=j <= dropout_blocks))
        self.decoder = nn.ModuleList(dec)
        self.out = nn.Sequential(nn.ReLU(inplace=False), nn.ConvTranspose2d(2 * widths[0], out_ch, 4, stride=2, padding=1))
        if residual and in_ch != out_ch:
            raise ValueError("a residual U-Net needs as many input as output channels")
        self.residual = residual
        self.multiple = 2 ** n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for enc in self.encoder:
            h = enc(h)
            skips.append(h)
        h = self.decoder[0](skips[-1])
        for j, dec in enumerate(self.decoder[1:], start=1):
            h = dec(torch.cat([h, skips[-1 - j]], 1))
        y = self.out(torch.cat([h, skips[0]], 1))
        # residual: in_ch == out_ch (checked at build); no channel slice, which onnx2tf mistranslates
        return torch.clamp(x + y, -1.0, 1.0) if self.residual else torch.tanh(y)


# ---------------------------------------------------------------- variants
VARIANTS = {
    "pix2pix_unet256": dict(widths=(64, 128, 256, 512, 512, 512, 512, 512)),      # 54.4 M params
    "pix2pix_unet256_lite": dict(widths=(16, 32, 64, 128, 128, 128, 128, 128)),  # 3.4 M params
    "unet_s": dict(widths=(16, 32, 64, 64, 64), dropout_blocks=0, residual=True),
}
DISCRIMINATORS = {
    "patchgan70": dict(in_ch=6, ndf=64, n_layers=3, num_d=1, norm="batch"),
    "patchgan70_lite": dict(in_ch=6, ndf=16, n_layers=3, num_d=1, norm="batch"),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(UNetGenerator, **_kw))
for _name, _kw in DISCRIMINATORS.items():
    ARCHS.register(_name, lazy_call(MultiscaleDiscriminator, **_kw))
