"""4x super-resolution: SRGAN's generator and discriminator (Ledig et al., 2017) and a compact student.

- ``srgan_g`` (SRResNet, the SRGAN generator as published, 1.55 M params): 9x9 conv 64 + PReLU;
  16 residual blocks (3x3 conv, BN, PReLU, 3x3 conv, BN, skip); 3x3 conv + BN added to the first
  features; two upsampling blocks (3x3 conv to 256, PixelShuffle(2), PReLU); 9x9 conv to RGB, tanh.
- ``srgan_d`` (the SRGAN discriminator): 3x3 conv 64 + LeakyReLU(0.2), then conv-BN-LeakyReLU
  blocks 64 (s2), 128, 128 (s2), 256, 256 (s2), 512, 512 (s2); dense 1024 + LeakyReLU, dense 1,
  sigmoid. The dense layers follow a global average pool (as common PyTorch ports do), so it takes
  any crop size.
- ``srvgg_*`` (the student, in the spirit of Real-ESRGAN's SRVGGNetCompact): a plain stack of 3x3
  convs + PReLU at the low resolution, one conv to 3 x 4 x 4 channels, added to a *bicubic* x4 of the
  input written as a fixed 5x5 conv to the same 3 x 4 x 4 phases, then PixelShuffle(4): all the work
  happens at the input's resolution, and an untrained body already gives bicubic (Real-ESRGAN adds
  the nearest upsample instead; bicubic starts ~1.5 dB higher, which a CPU-trained student needs).
  The fixed conv is a buffer (no parameters) and exports as an ordinary conv to every format.

Images are normalized alike on both sides (about [-1, 1]: the task's mean 128/255, std 0.5);
``forward`` returns the image (the generator's tanh / the student's residual sum), the task's export
head maps it back to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ARCHS
from ..registry import lazy_call


# ---------------------------------------------------------------- blocks
class ResidualBlock(nn.Module):
    """conv-BN-PReLU-conv-BN + skip."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.PReLU(),
                                  nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleBlock(nn.Module):
    """conv -> PixelShuffle(2) -> PReLU: twice the resolution."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


# ---------------------------------------------------------------- models
class SRResNet(nn.Module):
    """SRGAN's generator: x (N, 3, h, w) in [-1, 1] -> (N, 3, 4h, 4w) in [-1, 1]."""

    def __init__(self, ch: int = 64, blocks: int = 16, upsamples: int = 2) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, ch, 9, padding=4), nn.PReLU())
        self.body = nn.Sequential(*[ResidualBlock(ch) for _ in range(blocks)])
        self.body_tail = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch))
        self.up = nn.Sequential(*[UpsampleBlock(ch) for _ in range(upsamples)])
        self.tail = nn.Conv2d(ch, 3, 9, padding=4)
        self.scale = 2 ** upsamples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.body_tail(self.body(h))
        return torch.tanh(self.tail(self.up(h)))


class SRDiscriminator(nn.Module):
    """SRGAN's discriminator: an image (N, 3, H, W) in [-1, 1] -> P(real) (N, 1)."""

    def __init__(self, ch: int = 64) -> None:
        super().__init__()
        layers = [nn.Conv2d(3, ch, 3, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        plan = [(ch, ch, 2), (ch, 2 * ch, 1), (2 * ch, 2 * ch, 2), (2 * ch, 4 * ch, 1),
                (4 * ch, 4 * ch, 2), (4 * ch, 8 * ch, 1), (8 * ch, 8 * ch, 2)]
        for cin, cout, stride in plan:
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * ch, 16 * ch),
                                        nn.LeakyReLU(0.2, inplace=True), nn.Linear(16 * ch, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _cubic(t: float, a: float = -0.5) -> float:
    """Keys' cubic convolution kernel (a = -0.5: Pillow's and Matlab's bicubic)."""
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    if t < 2:
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
    return 0.0


def bicubic_phase_kernel(scale: int, taps: int = 5) -> torch.Tensor:
    """Bicubic upsampling by ``scale`` as a conv: weight (3 * scale^2, 3, taps, taps) whose output,
    PixelShuffled by ``scale``, is the bicubic image (half-pixel centres; zero padding at borders).
    Output channel ``c * scale^2 + py * scale + px`` is colour c at sub-pixel phase (py, px)."""
    r = taps // 2
    w1 = torch.zeros(scale, taps, dtype=torch.float64)
    for p in range(scale):
        d = (p + 0.5) / scale - 0.5          # source offset of phase p from its LR pixel
        for k in range(taps):
            w1[p, k] = _cubic(d - (k - r))
        w1[p] /= w1[p].sum()
    k = torch.zeros(3 * scale * scale, 3, taps, taps, dtype=torch.float64)
    for c in range(3):
        for py in range(scale):
            for px in range(scale):
                k[c * scale * scale + py * scale + px, c] = torch.outer(w1[py], w1[px])
    return k.float()


class SRVGGCompact(nn.Module):
    """The student: ``body(x) + bicubic_phases(x)`` at the input's resolution, then PixelShuffle(scale)."""

    def __init__(self, ch: int = 32, convs: int = 8, scale: int = 4) -> None:
        super().__init__()
        layers = [nn.Conv2d(3, ch, 3, padding=1), nn.PReLU(ch)]
        for _ in range(convs):
            layers += [nn.Conv2d(ch, ch, 3, padding=1), nn.PReLU(ch)]
        layers += [nn.Conv2d(ch, 3 * scale * scale, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        self.shuffle = nn.PixelShuffle(scale)
        self.register_buffer("bicubic", bicubic_phase_kernel(scale), persistent=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # zero padding (the conv's own): onnx2tf mistranslates an explicit reflect Pad here
        base = F.conv2d(x, self.bicubic, padding=2)
        return self.shuffle(self.body(x) + base)


# ---------------------------------------------------------------- variants
VARIANTS = {
    "srgan_g": (SRResNet, dict(ch=64, blocks=16)),          # as published: 1.55 M params
    "srgan_g_lite": (SRResNet, dict(ch=32, blocks=8)),     # a teacher the CPU trains in minutes
    "srvgg_s": (SRVGGCompact, dict(ch=32, convs=8)),      # the shipped student, ~0.09 M params
    "srvgg_m": (SRVGGCompact, dict(ch=48, convs=10)),     # a wider student, ~0.23 M params
}
DISCRIMINATORS = {
    "srgan_d": (SRDiscriminator, dict(ch=64)),
    "srgan_d_lite": (SRDiscriminator, dict(ch=32)),
}

for _name, (_cls, _kw) in {**VARIANTS, **DISCRIMINATORS}.items():
    ARCHS.register(_name, lazy_call(_cls, **_kw))
