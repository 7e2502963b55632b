"""Colorization from real photographs: (grayscale, colour) pairs cut from the fetched photos.

The colour image is a square crop of one of the split's photos (``edgephoto fetch``; split by
source file, see ``edgephoto.data.real_sources``) whose side is drawn between ``SIDE`` and the
photo's short side, resized to ``SIDE`` x ``SIDE``: some samples are whole scenes, as the runtime
sees a photo squeezed to the model's input, some are close-ups. The grayscale input keeps the
colour image's own CIE L* (a* = b* = 0, ``runtime.lab.gray_rgb``), written as an 8-bit grey PNG.

Layout: ``<split>/gray/*.png``, ``<split>/color/*.png``. Training reads only ``color/`` (the
grey input is made from it on the fly); a user's folder of colour photos, ImageNet-style
(``<split>/<class>/*.JPEG``), works the same (``tasks/colorize.py``).
Deterministic: sample ``i`` of a split depends only on ``(seed, split, i)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from PIL import Image

from ..metrics import colourfulness
from ..runtime.lab import gray_rgb
from .folders import DatasetError
from .real_sources import load_photo, real_sources, sample_rng, split_files, write_photo_pairs

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}
SIDE = 256
MIN_COLOURFULNESS = 5.0    # Hasler-Suesstrunk M; ordinary photos score 30-60, a grey one 0
MAX_DRAWS = 32


def colour_sample(draw: Callable[[int], np.ndarray]) -> np.ndarray:
    """The first of ``draw(0)``, ``draw(1)``, ... that has colour (a grey truth is no colorization
    sample); after ``MAX_DRAWS`` grey ones, a clear error rather than a split of grey images."""
    for attempt in range(MAX_DRAWS):
        rgb = draw(attempt)
        if colourfulness(rgb) >= MIN_COLOURFULNESS:
            return rgb
    raise DatasetError(f"{MAX_DRAWS} draws in a row were grey (colourfulness < {MIN_COLOURFULNESS}): "
                     "the colorize sources hold no colour photos")


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 colour -> uint8 HxW grey with the same L* (what the input file holds)."""
    return (gray_rgb(rgb)[..., 0] * 255.0 + 0.5).astype(np.uint8)


def scaled_crop(rng: np.random.Generator, photo: np.ndarray, side: int) -> np.ndarray:
    """A square crop of ``photo`` (side between ``side`` and its short side), resized to ``side``."""
    h, w = photo.shape[:2]
    short = min(h, w)
    s = int(rng.integers(min(side, short), short + 1))
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    crop = np.ascontiguousarray(photo[y:y + s, x:x + s])
    return crop if s == side else np.asarray(Image.fromarray(crop).resize((side, side), Image.BICUBIC))


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    rng = sample_rng(seed, split, index)
    photos = split_files("photo", split)
    color = colour_sample(lambda _: scaled_crop(rng, load_photo(str(photos[int(rng.integers(len(photos)))].path)),
                                                SIDE))
    return gray_of(color), color


def available() -> bool:
    return bool(real_sources("photo", "train"))


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/gray/*.png`` + ``root/<split>/color/*.png`` and ``root/sources.json``."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    return write_photo_pairs(root, make_pair, sizes, ("gray", "color"), (".png", ".png"), seed=seed,
                             progress=progress, workers=workers)
