"""How a low-resolution input is made from a high-resolution photo, for 4x super-resolution.

``DEGRADATIONS`` (registry): ``bicubic`` (Pillow's antialiased bicubic /4: the DIV2K "bicubic"
track and the bench's default) and ``realistic`` (a random Gaussian blur, then bicubic /4, then
Gaussian noise and JPEG at a random quality: what phone photos and web images have). Each
``f(hr_u8, scale, rng) -> lr_u8`` depends only on its inputs and ``rng``.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from ..registry import Registry

DEGRADATIONS = Registry("degradation")


@DEGRADATIONS.register("bicubic")
def bicubic(hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((max(1, w // scale), max(1, h // scale)), Image.BICUBIC))


@DEGRADATIONS.register("realistic")
def realistic(hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    im = Image.fromarray(hr).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 1.6))))
    lr = bicubic(np.asarray(im), scale, rng).astype(np.float32)
    lr = np.clip(lr + rng.normal(0.0, rng.uniform(0.0, 6.0), lr.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(lr).save(buf, format="JPEG", quality=int(rng.integers(50, 96)))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def crop_to_multiple(hr: np.ndarray, scale: int) -> np.ndarray:
    """Trim the bottom/right so both sides are multiples of ``scale`` (LR x scale == HR exactly)."""
    h, w = hr.shape[:2]
    return hr[: h - h % scale, : w - w % scale]
