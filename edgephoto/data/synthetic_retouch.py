"""The retouching task's built-in dataset: good photos, degraded the way phone snapshots are.

Each pair is ``(degraded input, original target)``: the target is a clean 256x256 image and the
input is the same image after a random, per-sample chain of the defects auto-retouching undoes:

1. exposure (a gain of 2^-1 .. 2^0.6 in linear light) and a white-balance cast (red and blue gains
   0.8 .. 1.2 in linear light);
2. contrast (0.65 .. 1.15 around the mean luma) and saturation (0.55 .. 1.15);
3. vignetting (40% of samples: up to 35% darker in the corners);
4. sensor noise (half of the samples: Gaussian, sigma up to 0.03) and JPEG (60%: quality 45 .. 90).

Clean images are crops of the photos bundled with scikit-image / scikit-learn (see
``edgephoto.data.photos``; three of them are held out of the training split and used only for
val/test) and product-like scenes from the background-removal generator (objects with shadows on
backgrounds). Deterministic given the seed: ``edgephoto data --task retouch``.

Layout, as users bring their own pairs (MIT-Adobe FiveK style, matched by stem)::

    data/retouch/<split>/inputs/<stem>.jpg     degraded photo
    data/retouch/<split>/targets/<stem>.png    the retouched (here: original) photo
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np
from PIL import Image

from .photos import builtin_photos

SPLIT_SIZES = {"train": 2000, "val": 100, "test": 200}
SIDE = 256
HELD_OUT_EVERY = 5          # photos 4, 9, 14 ... are never used for training crops


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, {"train": 0, "val": 1, "test": 2}.get(split, 3), index, 7])


def _photos_for(split: str):
    photos = builtin_photos()
    held = [p for i, p in enumerate(photos) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    kept = [p for i, p in enumerate(photos) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    return kept if split == "train" else (held or kept)


def clean_image(seed: int, split: str, index: int) -> np.ndarray:
    """A clean SIDE x SIDE uint8 RGB image: a photo crop (60%) or a generated product scene."""
    rng = _rng(seed, split, index)
    photos = _photos_for(split)
    if photos and rng.random() < 0.6:
        ph = photos[int(rng.integers(len(photos)))]
        h, w = ph.shape[:2]
        side = int(min(h, w) * rng.uniform(0.35, 1.0))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = ph[y:y + side, x:x + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((SIDE, SIDE), Image.BICUBIC))
    from .synthetic_matte import make_sample
    img, _ = make_sample(seed + 1000, split, index)
    return np.asarray(Image.fromarray(img).resize((SIDE, SIDE), Image.BICUBIC))


def _to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def degrade(clean_u8: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, Dict[str, float]]:
    """Apply the random defect chain of the module docstring; returns (uint8 image, parameters)."""
    x = clean_u8.astype(np.float64) / 255.0
    p: Dict[str, float] = {"exposure_stops": float(rng.uniform(-1.0, 0.6)),
                           "red_gain": float(rng.uniform(0.8, 1.2)), "blue_gain": float(rng.uniform(0.8, 1.2)),
                           "contrast": float(rng.uniform(0.65, 1.15)), "saturation": float(rng.uniform(0.55, 1.15))}
    lin = _to_linear(x) * 2.0 ** p["exposure_stops"]
    lin = lin * np.array([p["red_gain"], 1.0, p["blue_gain"]])
    x = _to_srgb(lin)
    luma = x @ np.array([0.299, 0.587, 0.114])
    x = (x - luma.mean()) * p["contrast"] + luma.mean()
    luma = x @ np.array([0.299, 0.587, 0.114])
    x = luma[..., None] + p["saturation"] * (x - luma[..., None])
    if rng.random() < 0.4:
        h, w = x.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        r2 = ((yy - (h - 1) / 2) / (h / 2)) ** 2 + ((xx - (w - 1) / 2) / (w / 2)) ** 2
        p["vignette"] = float(rng.uniform(0.1, 0.35))
        x = x * (1 - p["vignette"] * r2 / 2)[..., None]
    if rng.random() < 0.5:
        p["noise_sigma"] = float(rng.uniform(0.005, 0.03))
        x = x + rng.normal(0, p["noise_sigma"], x.shape)
    out = (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
    if rng.random() < 0.6:
        p["jpeg_quality"] = int(rng.integers(45, 91))
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=p["jpeg_quality"])
        buf.seek(0)
        out = np.asarray(Image.open(buf).convert("RGB"))
    return out, p


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    """(degraded input, clean target), both uint8 SIDE x SIDE x 3."""
    target = clean_image(seed, split, index)
    inp, _ = degrade(target, _rng(seed + 1, split, index))
    return inp, target


def generate(root: Path, seed: int = 0, sizes: Dict[str, int] | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             workers: int | None = None) -> Dict[str, int]:
    """Write ``root/<split>/inputs/*.jpg`` + ``root/<split>/targets/*.png``; existing pairs are kept."""
    from .generate import write_pairs
    return write_pairs(root, make_pair, dict(SPLIT_SIZES if sizes is None else sizes), ("inputs", "targets"), seed=seed,
                       progress=progress, workers=workers)
