"""The retouching task's dataset from real photographs: fetched photos, degraded like phone snapshots.

Each pair is ``(degraded input, original target)``. The target is a crop of a real photograph
(``edgephoto fetch``; split by source file, see ``edgephoto.data.real_sources``) at most ``LONG_SIDE``
pixels on its long side, keeping its aspect ratio; the input is the same photo after the random
defect chain of ``edgephoto.data.synthetic_retouch.degrade`` (exposure, white balance, contrast,
saturation, vignetting, noise, JPEG) applied to the *whole* photo, as a camera would. Photos are kept
whole (not cut into training tiles here) so that a model's global path learns from whole-photo
statistics; training crops are taken on the fly.

Layout as ``synthetic_retouch`` (MIT-Adobe FiveK style): ``<split>/inputs/*.jpg``, ``<split>/targets/*.png``.
Deterministic: sample ``i`` of a split depends only on ``(seed, split, i)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from PIL import Image

from .real_sources import load_photo, real_sources, sample_rng, split_files, write_photo_pairs
from .synthetic_retouch import degrade

SPLIT_SIZES = {"train": 2000, "val": 100, "test": 200}
LONG_SIDE = 512
MIN_SIDE = 160


def clean_photo(seed: int, split: str, index: int) -> np.ndarray:
    """A crop (50-100% of each side) of one of the split's photos, long side <= LONG_SIDE, uint8."""
    rng = sample_rng(seed, split, index)
    photos = split_files("photo", split)
    ph = load_photo(str(photos[int(rng.integers(len(photos)))].path))
    h, w = ph.shape[:2]
    ch, cw = max(MIN_SIDE, int(h * rng.uniform(0.5, 1.0))), max(MIN_SIDE, int(w * rng.uniform(0.5, 1.0)))
    ch, cw = min(ch, h), min(cw, w)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    im = Image.fromarray(np.ascontiguousarray(ph[y:y + ch, x:x + cw]))
    k = LONG_SIDE / max(im.size)
    if k < 1:
        im = im.resize((max(1, round(im.size[0] * k)), max(1, round(im.size[1] * k))), Image.BICUBIC)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(im)


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    """(degraded input, clean target), uint8 HxWx3 of the same size."""
    target = clean_photo(seed, split, index)
    inp, _ = degrade(target, sample_rng(seed + 1, split, index + 100003))
    return inp, target


def available() -> bool:
    return bool(real_sources("photo", "train"))


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/inputs/*.jpg`` + ``root/<split>/targets/*.png`` and ``root/sources.json``."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    return write_photo_pairs(root, make_pair, sizes, ("inputs", "targets"), seed=seed, progress=progress,
                             workers=workers)
