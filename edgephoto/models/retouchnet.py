"""RetouchNet: the compact retouching student (a small encoder-decoder with a global path).

Retouching is mostly global (exposure, contrast, white balance, saturation) with local touches, so
the student is built for that at a few thousand MACs per pixel:

- encoder at 1, 1/2 and 1/4 resolution (3x3 convs, stride-2 downsampling, ReLU, BatchNorm);
- a **global path** in the spirit of HDRNet: the 1/4-resolution features are averaged over the
  whole input, passed through two 1x1 convs and added back to every position, so each pixel's
  correction can depend on image-wide statistics (colour cast, exposure);
- residual blocks at 1/4 resolution, then a decoder with *additive* skips (cheaper than concat at
  full resolution) back to full resolution;
- a 3x3 conv predicts a correction that is added to the input (images in [-1, 1]).

Fully convolutional: the runtime runs it on overlapping tiles (``inference.mode = tile``); the
global path then sees each tile's statistics, which the tile blending smooths over.

Variants: ``retouchnet_tiny`` (width 8, the shipped student) and ``retouchnet_small`` (width 16).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ARCHS
from ..registry import lazy_call


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(ch, ch), nn.Conv2d(ch, ch, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class GlobalPath(nn.Module):
    """Image-wide context: mean over positions -> 1x1 conv -> ReLU -> 1x1 conv, added everywhere."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Conv2d(ch, ch, 1), nn.ReLU(inplace=True), nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc(x.mean(dim=(2, 3), keepdim=True))


class RetouchNet(nn.Module):
    def __init__(self, width: int = 8, n_blocks: int = 2, in_ch: int = 3, out_ch: int = 3) -> None:
        super().__init__()
        c = width
        self.enc1 = conv_bn_relu(in_ch, c)
        self.enc2 = nn.Sequential(conv_bn_relu(c, 2 * c, 2), conv_bn_relu(2 * c, 2 * c))
        self.enc3 = nn.Sequential(conv_bn_relu(2 * c, 4 * c, 2), conv_bn_relu(4 * c, 4 * c))
        self.context = GlobalPath(4 * c)
        self.blocks = nn.Sequential(*[ResBlock(4 * c) for _ in range(n_blocks)])
        self.up3 = nn.Conv2d(4 * c, 2 * c, 1)
        self.dec2 = conv_bn_relu(2 * c, 2 * c)
        self.up2 = nn.Conv2d(2 * c, c, 1)
        self.dec1 = conv_bn_relu(c, c)
        self.head = nn.Conv2d(c, out_ch, 3, padding=1)
        nn.init.zeros_(self.head.weight)   # start as the identity: output = input
        nn.init.zeros_(self.head.bias)
        self.multiple = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        xp = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if (pad_h or pad_w) else x
        e1 = self.enc1(xp)
        e2 = self.enc2(e1)
        b = self.blocks(self.context(self.enc3(e2)))
        d2 = self.dec2(F.interpolate(self.up3(b), scale_factor=2, mode="nearest") + e2)
        d1 = self.dec1(F.interpolate(self.up2(d2), scale_factor=2, mode="nearest") + e1)
        return (xp[:, :self.head.out_channels] + self.head(d1))[:, :, :h, :w]


class ContextRetouchNet(nn.Module):
    """Per-pixel curves conditioned on the whole photo: HDRNet's split, at ~400 MACs per pixel.

    Input (8 channels, see ``edgephoto.runtime.spec.InputSpec.context``): the pixels (3), the whole
    photo's ``grid x grid`` thumbnail repeated over the input (3) and the pixel's position in the
    photo (2). The photo is usually tiled, but the thumbnail and positions are the whole photo's, so
    every tile gets the same correction a single pass would.

    - global path (low resolution, once per input): the input average-pooled to the thumbnail's grid,
      through three 3x3 convs (two stride 2) and a mean -> an image code -> FiLM scales and shifts;
    - pixel path (full resolution, 1x1 convs only): rgb + position -> ``width`` -> ``width`` -> 3,
      each hidden layer modulated by the image code; the result is added to the input (zero-initialised
      head: starts as the identity). No spatial kernel at full resolution, so tiles need no overlap.
    """

    def __init__(self, width: int = 16, grid: int = 16, code: int = 64, in_ch: int = 8, out_ch: int = 3) -> None:
        super().__init__()
        if in_ch != 8:
            raise ValueError("ContextRetouchNet takes rgb + thumbnail + position (8 channels)")
        self.grid, self.width = grid, width
        self.tile_overlap = 0       # 1x1 convs at full resolution: tiles need no cross-fade (export reads it)
        self.thumb = nn.Sequential(
            nn.Conv2d(in_ch, 16, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.code = nn.Sequential(nn.Conv2d(64, code, 1), nn.ReLU(inplace=True))
        # FiLM scales and shifts of the two hidden layers; separate convs, not one split (onnx2tf)
        self.film = nn.ModuleList(nn.Conv2d(code, width, 1) for _ in range(4))
        for f in self.film:                   # FiLM starts neutral
            nn.init.zeros_(f.weight)
            nn.init.zeros_(f.bias)
        # the global path reads only the thumbnail channels (3-5): the same code for every tile
        mask = torch.zeros(1, in_ch, 1, 1)
        mask[:, 3:6] = 1.0
        self.register_buffer("thumb_mask", mask, persistent=False)
        # ... and the pixel path only rgb + position: where a thumbnail cell lands in a tile depends
        # on the tile, so per-pixel use of those channels would make tiling change the answer
        self.register_buffer("pixel_mask", 1.0 - mask, persistent=False)
        self.px1 = nn.Conv2d(in_ch, width, 1)
        # fixed 1x1 weights pick the photo's RGB for the residual: no channel Slice in the graph,
        # which onnx2tf mis-converts (it slices the wrong axis after its NCHW -> NHWC transpose)
        pick = torch.zeros(out_ch, in_ch, 1, 1)
        pick[torch.arange(out_ch), torch.arange(out_ch)] = 1.0
        self.register_buffer("pick_rgb", pick, persistent=False)
        self.px2 = nn.Conv2d(width, width, 1)
        self.head = nn.Conv2d(width, out_ch, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        # the thumbnail channels hold grid x grid blocks: pooling by the block size recovers the grid
        # (all channels are pooled and the others masked out: no channel Slice in the graph)
        g = F.adaptive_avg_pool2d(x, self.grid) if (h % self.grid or w % self.grid) else \
            F.avg_pool2d(x, (h // self.grid, w // self.grid))
        code = self.code(self.thumb(g * self.thumb_mask).mean(dim=(2, 3), keepdim=True))
        s1, b1, s2, b2 = (f(code) for f in self.film)
        p = F.relu(self.px1(x * self.pixel_mask) * (1 + s1) + b1)
        p = F.relu(self.px2(p) * (1 + s2) + b2)
        # input RGB + head(p) as one conv over [p, x] (the picker's weights beside the head's): TF.js
        # would fuse "conv + add of a tensor" into a FusedConv2D with a rank-4 bias, which it cannot run
        return F.conv2d(torch.cat([p, x], 1), torch.cat([self.head.weight, self.pick_rgb], 1), self.head.bias)


VARIANTS = {
    "retouchnet_tiny": dict(width=8, n_blocks=2),
    "retouchnet_small": dict(width=16, n_blocks=2),
}
CONTEXT_VARIANTS = {
    # the shipped student: per-pixel curves from the whole photo's thumbnail
    "retouchnet_ctx": dict(width=16, grid=16),
    "retouchnet_ctx_wide": dict(width=32, grid=16),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(RetouchNet, **_kw))
for _name, _kw in CONTEXT_VARIANTS.items():
    ARCHS.register(_name, lazy_call(ContextRetouchNet, **_kw))
