"""Blur degradations for deblurring data, one recorded name per sample (``BLURS`` registry).

- ``box14``: the document's 14x14 box filter;
- ``motion``: a line kernel of random length (7-25 px) and angle, as a moving camera makes;
- ``defocus``: a disk of random radius (2-6 px), as an out-of-focus lens makes.

After the blur, Gaussian noise of a random strength (sigma 0-4 levels) is added, as a sensor does.
``blur(sharp_u8, rng) -> (blurred_u8, name)`` picks the kind at random (``kind`` forces one).
Convolution is numpy FFT with reflect padding (no SciPy); kernels sum to 1.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..registry import Registry

BLURS = Registry("blur")


@BLURS.register("box14")
def box_kernel(rng: np.random.Generator) -> np.ndarray:
    return np.full((14, 14), 1.0 / 196.0)


@BLURS.register("motion")
def motion_kernel(rng: np.random.Generator) -> np.ndarray:
    length = int(rng.integers(7, 26))
    angle = float(rng.uniform(0.0, np.pi))
    size = length + (1 - length % 2)
    k = np.zeros((size, size))
    c = size // 2
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * length):
        y, x = c + t * np.sin(angle), c + t * np.cos(angle)
        k[int(round(y)), int(round(x))] += 1.0
    return k / k.sum()


@BLURS.register("defocus")
def defocus_kernel(rng: np.random.Generator) -> np.ndarray:
    r = float(rng.uniform(2.0, 6.0))
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    k = (yy ** 2 + xx ** 2 <= r * r).astype(np.float64)
    return k / k.sum()


def convolve(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """HxWxC float image (*) kernel, same size, reflect-padded, via FFT."""
    kh, kw = k.shape
    ph, pw = kh // 2, kw // 2
    pad = np.pad(img, ((ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)), mode="reflect")
    H, W = pad.shape[:2]
    K = np.fft.rfft2(k[::-1, ::-1], s=(H, W))
    out = np.fft.irfft2(np.fft.rfft2(pad, axes=(0, 1)) * K[..., None], s=(H, W), axes=(0, 1))
    h, w = img.shape[:2]
    return out[kh - 1:kh - 1 + h, kw - 1:kw - 1 + w]


def blur(sharp: np.ndarray, rng: np.random.Generator, kind: Optional[str] = None) -> Tuple[np.ndarray, str]:
    """(blurred uint8 HxWx3, the blur's name): a random kind (or ``kind``) plus sensor noise."""
    kind = kind or BLURS.names()[int(rng.integers(len(BLURS.names())))]
    out = convolve(sharp.astype(np.float64), BLURS.get(kind)(rng))
    out = out + rng.normal(0.0, rng.uniform(0.0, 4.0), out.shape)
    return np.clip(np.round(out), 0, 255).astype(np.uint8), kind
