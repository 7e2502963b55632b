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

``head="bins"`` (``colornet_s_bins``) is Zhang et al.'s classification head instead of the tanh
regression: a 1x1 conv to logits over the quantized a* b* plane (``ab_bin_centres``: a 10-unit grid,
the 262 cells holding a colour some L* puts inside sRGB), then the annealed mean
``sum_q softmax(z / T)_q * centre_q`` computed in the graph (a softmax and a fixed 1x1 conv), so the
exported output is still a* b* / 128 and no runtime changes. Regression to the mean of a bimodal
colour (a red or a blue car) gives grey; the annealed mean leans to the mode. ``T`` is folded into
the logit conv by output calibration (``train/calibrate.py``), so the weights carry it. The model
returns ``[ab, class logits, bin logits]``; the training loss is the cross-entropy on the bins.
"""

from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import numpy as np

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


@lru_cache(maxsize=None)
def ab_bin_centres(step: float = 10.0, limit: float = 110.0) -> np.ndarray:
    """Q x 2 centres (Lab units) of the ``step`` grid over [-limit, limit]^2 whose cell holds a colour
    inside the sRGB gamut at some L* (262 cells at step 10; Zhang et al.'s 313 are the cells their
    ImageNet histogram occupied, with another Lab conversion)."""
    from ..runtime.lab import lab_to_linear_rgb
    axis = np.arange(-limit, limit + 1e-6, step, dtype=np.float64)
    a, b = (g.ravel() for g in np.meshgrid(axis, axis, indexing="ij"))
    offsets = np.linspace(-step / 2, step / 2, 5)
    da, db = (g.ravel() for g in np.meshgrid(offsets, offsets, indexing="ij"))
    light = np.linspace(0.5, 99.5, 199)
    lab = np.stack(np.broadcast_arrays(light[:, None, None], (a[:, None] + da)[None], (b[:, None] + db)[None]), -1)
    rgb = lab_to_linear_rgb(lab.reshape(-1, 3), np.float64).reshape(lab.shape)
    inside = ((rgb >= 0) & (rgb <= 1)).all(axis=-1).any(axis=(0, 2))
    centres = np.stack([a[inside], b[inside]], axis=1).astype(np.float32)
    centres.flags.writeable = False          # cached: shared by every model and the loss
    return centres


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Bin logits B x Q x H x W and centres 2 x Q x 1 x 1 -> ``sum_q softmax(logits)_q * centre_q``."""
    return F.conv2d(torch.softmax(logits, dim=1), centres)


class AnnealedMean(nn.Module):
    """Bin logits B x Q x H x W -> the expected a* b* / 128 under ``softmax(logits)`` (B x 2 x H x W).
    The temperature lives in the logit conv's weights (calibration folds 1/T into them)."""

    def __init__(self, centres: np.ndarray, norm: float = 128.0) -> None:
        super().__init__()
        self.register_buffer("centres", torch.as_tensor(centres / norm, dtype=torch.float32).t()[:, :, None, None])

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return annealed_mean(logits, self.centres)


# ---------------------------------------------------------------- model
class ColorNet(nn.Module):
    """Encoder (``encoder``: (width, stride) per 3x3 conv), global branch from the encoder's
    output at layer ``global_from``, fusion, decoder (``decoder``: widths and "up"), 2-channel tanh."""

    def __init__(self, encoder: Sequence[Tuple[int, int]], global_from: int, global_convs: Sequence[int],
                 global_fcs: Sequence[int], fusion: int, decoder: Sequence, classes: int = 9,
                 in_ch: int = 1, head: str = "ab") -> None:
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
        if head not in ("ab", "bins"):
            raise ValueError(f"head must be 'ab' or 'bins', not {head!r}")
        self.head_kind = head
        if head == "ab":
            self.head = nn.Conv2d(c, 2, 3, padding=1)
        else:
            centres = ab_bin_centres()
            self.bin_logits = nn.Conv2d(c, len(centres), 1)
            self.decode = AnnealedMean(centres)
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
        if self.head_kind == "ab":
            return [self.up(torch.tanh(self.head(y))), self.classifier(emb)]
        z = self.bin_logits(y)
        return [self.up(self.decode(z)), self.classifier(emb), z]


# ---------------------------------------------------------------- variants
KOALA_ENCODER = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1))
VARIANTS = {
    # the document's encoder / fusion / decoder; the global branch replaces Inception-ResNet-v2
    "colornet_koala": dict(encoder=KOALA_ENCODER, global_from=4, global_convs=(256, 256),
                           global_fcs=(512, 256), fusion=256, decoder=(128, "up", 64, 64, "up", 32)),
    "colornet_s": dict(encoder=((32, 2), (64, 1), (64, 2), (96, 1), (96, 2), (128, 1), (128, 1)),
                       global_from=4, global_convs=(96, 128), global_fcs=(128,), fusion=128,
                       decoder=(96, "up", 64, "up", 32)),
    # colornet_s with the classification head over a* b* bins (Zhang et al.) instead of the tanh
    "colornet_s_bins": dict(encoder=((32, 2), (64, 1), (64, 2), (96, 1), (96, 2), (128, 1), (128, 1)),
                            global_from=4, global_convs=(96, 128), global_fcs=(128,), fusion=128,
                            decoder=(96, "up", 64, "up", 32), head="bins"),
    "colornet_xs": dict(encoder=((16, 2), (32, 1), (32, 2), (64, 2), (96, 1)), global_from=3,
                        global_convs=(64,), global_fcs=(64,), fusion=96, decoder=(64, "up", 32, "up", 16)),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(ColorNet, **_kw))
