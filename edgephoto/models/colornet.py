"""Colorization networks: L* in, a* b* out (tanh, [-1, 1] = ab / 128), with a global branch.

The teacher ``colornet_koala`` is the document's network (Baldassarre et al.'s "Deep Koalarization"):

- encoder: 3x3 convs 64/s2, 128, 128/s2, 256, 256/s2, 512, 512, 256 (ReLU), to H/8 x W/8;
- fusion: a global image embedding repeated over the H/8 x W/8 grid, concatenated with the
  encoder's 256 channels, then a 1x1 conv to 256. Computed as the 1x1 conv's two halves,
  ``W_local * local + (W_global * embedding)`` broadcast over the grid: the same function and the
  same parameters as concat + conv, without materialising the repeated embedding (a broadcast Add
  exports to every format; a Tile of a pooled vector did not need to);
- decoder: 3x3 convs 128, up x2, 64, 64, up x2, 32, 2 (tanh), up x2 (bilinear).

The document's embedding was a pretrained Inception-ResNet-v2 (1001 classes, 215 MB), which cannot
be fetched here; the global branch is trained jointly instead, as Iizuka et al. do: strided 3x3
convs on the encoder's H/8 features, a global average pool and two fully connected layers to the
embedding. An auxiliary head classifies the embedding into ``classes`` labels the data provides
for free (the colorize task uses the hue bin of the image's mean a* b*: ``tasks/colorize.py``); the
model returns ``[ab, class logits]`` and only ``ab`` is exported.

Students (``colornet_s``, ``colornet_xs``) are the same layout, narrower and shallower, with a
tiny global branch. Inputs: 1 x 1 x H x W, sides multiples of 8.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ARCHS
from ..registry import lazy_call


# ---------------------------------------------------------------- blocks
def conv_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class Up(nn.Module):
    """Bilinear x2 upsampling (the decoder's "up")."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class GlobalBranch(nn.Module):
    """Strided 3x3 convs -> global average pool -> fully connected layers -> embedding (ReLU)."""

    def __init__(self, cin: int, convs: Sequence[int], fcs: Sequence[int]) -> None:
        super().__init__()
        layers, c = [], cin
        for w in convs:
            layers.append(conv_relu(c, w, 2))
            c = w
        self.convs = nn.Sequential(*layers)
        fc = []
        for w in fcs:
            fc += [nn.Linear(c, w), nn.ReLU(inplace=True)]
            c = w
        self.fc = nn.Sequential(*fc)
        self.dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x).mean(dim=(2, 3)))


class Fusion(nn.Module):
    """concat(local, embedding repeated over the grid) -> 1x1 conv -> ReLU, computed in two halves."""

    def __init__(self, local: int, embed: int, out: int) -> None:
        super().__init__()
        self.local = nn.Conv2d(local, out, 1)             # W_local and the bias
        self.embed = nn.Linear(embed, out, bias=False)    # W_global
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.act(self.local(x) + self.embed(emb)[:, :, None, None])


# ---------------------------------------------------------------- model
class ColorNet(nn.Module):
    """Encoder (``encoder``: (width, stride) per 3x3 conv), global branch from the encoder's
    output at layer ``global_from``, fusion, decoder (``decoder``: widths and "up"), 2-channel tanh."""

    def __init__(self, encoder: Sequence[Tuple[int, int]], global_from: int, global_convs: Sequence[int],
                 global_fcs: Sequence[int], fusion: int, decoder: Sequence, classes: int = 9,
                 in_ch: int = 1) -> None:
        super().__init__()
        layers, c, taps = [], in_ch, []
        for w, s in encoder:
            layers.append(conv_relu(c, w, s))
            c = w
            taps.append(w)
        self.encoder = nn.ModuleList(layers)
        self.global_from = global_from
        self.glob = GlobalBranch(taps[global_from], global_convs, global_fcs)
        self.fusion = Fusion(c, self.glob.dim, fusion)
        dec, c = [], fusion
        for d in decoder:
            if d == "up":
                dec.append(Up())
            else:
                dec.append(conv_relu(c, int(d)))
                c = int(d)
        self.decoder = nn.Sequential(*dec)
        self.head = nn.Conv2d(c, 2, 3, padding=1)
        self.classifier = nn.Linear(self.glob.dim, classes)
        self.up = Up()
        self.multiple = 2 ** sum(1 for _, s in encoder if s == 2)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        h, g = x, None
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i == self.global_from:
                g = h
        emb = self.glob(g)
        y = self.decoder(self.fusion(h, emb))
        return [self.up(torch.tanh(self.head(y))), self.classifier(emb)]


# ---------------------------------------------------------------- variants
KOALA_ENCODER = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1))
VARIANTS = {
    # the document's encoder / fusion / decoder; the global branch replaces Inception-ResNet-v2
    "colornet_koala": dict(encoder=KOALA_ENCODER, global_from=4, global_convs=(256, 256),
                           global_fcs=(512, 256), fusion=256, decoder=(128, "up", 64, 64, "up", 32)),
    "colornet_s": dict(encoder=((32, 2), (64, 1), (64, 2), (96, 1), (96, 2), (128, 1), (128, 1)),
                       global_from=4, global_convs=(96, 128), global_fcs=(128,), fusion=128,
                       decoder=(96, "up", 64, "up", 32)),
    "colornet_xs": dict(encoder=((16, 2), (32, 1), (32, 2), (64, 2), (96, 1)), global_from=3,
                        global_convs=(64,), global_fcs=(64,), fusion=96, decoder=(64, "up", 32, "up", 16)),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(ColorNet, **_kw))
