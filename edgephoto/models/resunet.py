"""A residual restoration U-Net for deblurring students (3x3 convs, additive skips, CPU-friendly).

The pix2pix-shaped ``unet_s`` does one 4x4 stride-2 conv per level: at full resolution the network
has only its first and last layer, which is too little to undo a 14x14 box blur. This one keeps
residual blocks at every level, as restoration U-Nets do (NAFNet, Restormer-style layouts without
their attention and norms, which export poorly to TFLite/TF.js):

- head: 3x3 conv to ``widths[0]``;
- encoder level i: ``blocks`` residual blocks (3x3 conv, ReLU, 3x3 conv, + skip), then a 2x2
  stride-2 conv to ``widths[i + 1]``;
- the innermost level: ``mid_blocks`` residual blocks;
- decoder: 1x1 conv to 4 x ``widths[i]`` + PixelShuffle(2), *added* to the encoder's features
  (cheaper than concatenation at full resolution), then ``blocks`` residual blocks;
- tail: 3x3 conv to RGB, added to the input (the network predicts the correction), clamped.

Variants: ``resunet_s`` (0.6 M params), ``resunet_xs``. Fully convolutional on multiples of
``2 ** (len(widths) - 1)``. Images in [-1, 1].
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from . import ARCHS
from ..registry import lazy_call


# ---------------------------------------------------------------- blocks
class ResBlock(nn.Module):
    """3x3 conv -> ReLU -> 3x3 conv, plus the input."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def stage(ch: int, n: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(ch) for _ in range(n)])


# ---------------------------------------------------------------- model
class ResUNet(nn.Module):
    def __init__(self, widths: Sequence[int] = (16, 32, 64, 128), blocks: int = 1, mid_blocks: int = 2,
                 in_ch: int = 3) -> None:
        super().__init__()
        n = len(widths)
        self.head = nn.Conv2d(in_ch, widths[0], 3, padding=1)
        self.enc = nn.ModuleList([stage(widths[i], blocks) for i in range(n - 1)])
        self.down = nn.ModuleList([nn.Conv2d(widths[i], widths[i + 1], 2, stride=2) for i in range(n - 1)])
        self.mid = stage(widths[-1], mid_blocks)
        self.up = nn.ModuleList([nn.Sequential(nn.Conv2d(widths[i + 1], 4 * widths[i], 1), nn.PixelShuffle(2))
                                 for i in range(n - 1)])
        self.dec = nn.ModuleList([stage(widths[i], blocks) for i in range(n - 1)])
        self.tail = nn.Conv2d(widths[0], in_ch, 3, padding=1)
        self.multiple = 2 ** (n - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.mid(h)
        for i in reversed(range(len(self.up))):
            h = self.dec[i](self.up[i](h) + skips[i])
        return torch.clamp(x + self.tail(h), -1.0, 1.0)


# ---------------------------------------------------------------- variants
VARIANTS = {
    "resunet_s": dict(widths=(16, 32, 64, 128), blocks=1, mid_blocks=2),
    "resunet_xs": dict(widths=(12, 24, 48, 96), blocks=1, mid_blocks=2),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(ResUNet, **_kw))
