"""U2-Net (Qin et al., 2020): nested U-structure of ReSidual U-blocks for salient-object masks.

Structure as published: encoder stages RSU-7, RSU-6, RSU-5, RSU-4, RSU-4F, RSU-4F with 2x max
pooling between them, a decoder that mirrors it (RSU-4F, RSU-4, RSU-5, RSU-6, RSU-7), six side
outputs (3x3 conv, upsampled to the input size) and a fused output (1x1 conv over their concat).

``forward`` returns *logits* ``[fused, side1..side6]`` so losses (BCE, temperature distillation)
can work on logits; ``predict`` / the export wrapper apply the sigmoid.

Variants (see ``VARIANTS``): ``u2net`` (44.0 M params), ``u2netp`` (1.13 M params; ``u2netp_folded``
is the same without BatchNorm, as its deployed ONNX has it) and two
channel-reduced variants that the CPU can train: ``u2net_lite`` (teacher, 1/4 width) and
``u2net_tiny`` (student, 1/8 width).
"""

from __future__ import annotations

from functools import partial
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ARCHS
from ..registry import lazy_call


# ---------------------------------------------------------------- blocks
class ConvBnRelu(nn.Module):
    """3x3 conv (optionally dilated) + BatchNorm + ReLU: the REBNCONV unit of U2-Net.

    ``batchnorm=False`` leaves the BatchNorm out, as in a deployed file where it is folded into the
    conv (the published U2-Netp ONNX): weights from such a file then load one conv per unit.
    """

    def __init__(self, cin: int, cout: int, dilation: int = 1, batchnorm: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.bn = nn.BatchNorm2d(cout) if batchnorm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


def upsample_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[2:], mode="bilinear", align_corners=False)


class RSU(nn.Module):
    """ReSidual U-block RSU-L(cin, mid, cout): ``F1(x) + U(F1(x))``, a U of height ``L``.

    The U has L-1 encoder convs with 2x max-pooling between them, a dilated (d=2) bottom conv and
    L-2 decoder convs on concatenations, upsampling between them.
    """

    def __init__(self, height: int, cin: int, mid: int, cout: int, batchnorm: bool = True) -> None:
        super().__init__()
        if height < 3:
            raise ValueError("RSU height must be >= 3")
        unit = partial(ConvBnRelu, batchnorm=batchnorm)
        self.height = height
        self.conv_in = unit(cin, cout)
        self.encoder = nn.ModuleList([unit(cout, mid)] + [unit(mid, mid) for _ in range(height - 2)])
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.bottom = unit(mid, mid, dilation=2)
        self.decoder = nn.ModuleList([unit(2 * mid, mid) for _ in range(height - 2)] + [unit(2 * mid, cout)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hx_in = self.conv_in(x)
        feats: List[torch.Tensor] = []
        h = hx_in
        for i, enc in enumerate(self.encoder):
            if i > 0:
                h = self.pool(h)
            h = enc(h)
            feats.append(h)
        h = self.bottom(h)
        for i, dec in enumerate(self.decoder):
            skip = feats[-1 - i]
            if i > 0:
                h = upsample_like(h, skip)
            h = dec(torch.cat([h, skip], 1))
        return h + hx_in


class RSUF(nn.Module):
    """RSU-4F: the "flat" RSU that keeps the resolution and grows dilation (1, 2, 4, 8) instead."""

    def __init__(self, cin: int, mid: int, cout: int, batchnorm: bool = True) -> None:
        super().__init__()
        unit = partial(ConvBnRelu, batchnorm=batchnorm)
        self.conv_in = unit(cin, cout)
        self.encoder = nn.ModuleList([unit(cout, mid, 1), unit(mid, mid, 2), unit(mid, mid, 4)])
        self.bottom = unit(mid, mid, 8)
        self.decoder = nn.ModuleList([unit(2 * mid, mid, 4), unit(2 * mid, mid, 2), unit(2 * mid, cout, 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hx_in = self.conv_in(x)
        feats = []
        h = hx_in
        for enc in self.encoder:
            h = enc(h)
            feats.append(h)
        h = self.bottom(h)
        for i, dec in enumerate(self.decoder):
            h = dec(torch.cat([h, feats[-1 - i]], 1))
        return h + hx_in


def make_stage(kind: str, cin: int, mid: int, cout: int, batchnorm: bool = True) -> nn.Module:
    """``kind`` is "7", "6", "5", "4" (RSU-L) or "4F"."""
    if kind.upper() == "4F":
        return RSUF(cin, mid, cout, batchnorm)
    return RSU(int(kind), cin, mid, cout, batchnorm)


# ---------------------------------------------------------------- model
class U2Net(nn.Module):
    """Six encoder stages, five decoder stages, six side outputs and a fused output.

    ``encoder`` / ``decoder``: sequences of ``(kind, cin, mid, cout)``; decoder stage i consumes the
    upsampled previous output concatenated with the mirrored encoder output.
    """

    def __init__(
        self,
        encoder: Sequence[Tuple[str, int, int, int]],
        decoder: Sequence[Tuple[str, int, int, int]],
        in_chans: int = 3,
        out_chans: int = 1,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        if len(encoder) != 6 or len(decoder) != 5:
            raise ValueError("U2-Net needs 6 encoder and 5 decoder stages")
        if encoder[0][1] != in_chans:
            raise ValueError("first encoder stage must take in_chans channels")
        self.encoder = nn.ModuleList([make_stage(*s, batchnorm=batchnorm) for s in encoder])
        self.decoder = nn.ModuleList([make_stage(*s, batchnorm=batchnorm) for s in decoder])
        self.pool = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        # side outputs: from decoder stages (finest first) and the last encoder stage
        side_chans = [s[3] for s in reversed(decoder)] + [encoder[-1][3]]
        self.sides = nn.ModuleList([nn.Conv2d(c, out_chans, 3, padding=1) for c in side_chans])
        self.fuse = nn.Conv2d(6 * out_chans, out_chans, 1)
        self.config = {"encoder": [list(s) for s in encoder], "decoder": [list(s) for s in decoder],
                       "in_chans": in_chans, "out_chans": out_chans, "batchnorm": batchnorm}

    def forward_features(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Decoder outputs finest-first, then the deepest encoder output (6 maps)."""
        enc = []
        h = x
        for i, stage in enumerate(self.encoder):
            if i > 0:
                h = self.pool(h)
            h = stage(h)
            enc.append(h)
        dec = []
        h = enc[-1]
        for i, stage in enumerate(self.decoder):
            skip = enc[-2 - i]
            h = stage(torch.cat([upsample_like(h, skip), skip], 1))
            dec.append(h)
        return list(reversed(dec)) + [enc[-1]]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = self.forward_features(x)
        sides = [side(f) for side, f in zip(self.sides, feats)]
        sides = [s if i == 0 else upsample_like(s, sides[0]) for i, s in enumerate(sides)]
        fused = self.fuse(torch.cat(sides, 1))
        return [fused] + sides

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.forward(x)[0])


# ---------------------------------------------------------------- variants


_FULL_ENCODER = [("7", 3, 32, 64), ("6", 64, 32, 128), ("5", 128, 64, 256),
                 ("4", 256, 128, 512), ("4F", 512, 256, 512), ("4F", 512, 256, 512)]
_FULL_DECODER = [("4F", 1024, 256, 512), ("4", 1024, 128, 256), ("5", 512, 64, 128),
                 ("6", 256, 32, 64), ("7", 128, 16, 64)]


def _scaled(stages, div: int, first_in: int = 3):
    out = []
    for i, (k, cin, mid, cout) in enumerate(stages):
        out.append((k, cin if (i == 0 and cin == first_in) else cin // div,
                    max(mid // div, 4), cout // div))
    return out


def _small(mid: int, out: int):
    kinds = ["7", "6", "5", "4", "4F", "4F"]
    enc = [(k, 3 if i == 0 else out, mid, out) for i, k in enumerate(kinds)]
    dec = [(k, 2 * out, mid, out) for k in ["4F", "4", "5", "6", "7"]]
    return enc, dec


_P_ENC, _P_DEC = _small(16, 64)
_SLIM_ENC, _SLIM_DEC = _small(8, 32)

VARIANTS = {
    # published full model: 44.0 M parameters
    "u2net": dict(encoder=_FULL_ENCODER, decoder=_FULL_DECODER),
    # published small model: 1.13 M parameters
    "u2netp": dict(encoder=_P_ENC, decoder=_P_DEC),
    # u2netp as its deployed file has it, BatchNorm folded into the convs: the shape that starts
    # from the published weights (`train --init u2netp.onnx`) and fine-tunes at a smaller input
    "u2netp_folded": dict(encoder=_P_ENC, decoder=_P_DEC, batchnorm=False),
    # the full layout at a quarter of the channels (~2.8 M): a teacher the CPU can train
    "u2net_lite": dict(encoder=_scaled(_FULL_ENCODER, 4), decoder=_scaled(_FULL_DECODER, 4)),
    # the full layout at an eighth of the channels (~0.70 M): the default shipped student. Few
    # channels at full resolution make it cheaper per pixel than u2netp (64 channels there).
    # u2netp at half the channels (~0.29 M)
    "u2netp_slim": dict(encoder=_SLIM_ENC, decoder=_SLIM_DEC),
    "u2net_tiny": dict(encoder=_scaled(_FULL_ENCODER, 8), decoder=_scaled(_FULL_DECODER, 8)),
}

for _name, _kw in VARIANTS.items():
    ARCHS.register(_name, lazy_call(U2Net, **_kw))
