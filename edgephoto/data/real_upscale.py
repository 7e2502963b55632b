"""4x super-resolution from real photographs: (LR, HR) pairs cut from the fetched photos.

HR is a crop of one of the split's photos (``edgephoto fetch``; split by source file, see
``edgephoto.data.real_sources``) at the decoded resolution, ``HR_SIDE`` pixels square; LR is its
bicubic /4 (``sr_degrade.bicubic``). Training reads only ``hr/`` and makes LR on the fly (random
crops, flips, the chosen degradation); val/test read the stored pairs, so every run scores the same.

Layout (DIV2K-like, one folder per resolution): ``<split>/lr/*.png``, ``<split>/hr/*.png``.
Deterministic: sample ``i`` of a split depends only on ``(seed, split, i)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .real_sources import load_photo, real_sources, sample_rng, split_files
from .sr_degrade import bicubic

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}
HR_SIDE = 256
SCALE = 4


def hr_crop(seed: int, split: str, index: int) -> np.ndarray:
    rng = sample_rng(seed, split, index)
    photos = split_files("photo", split)
    ph = load_photo(str(photos[int(rng.integers(len(photos)))].path))
    h, w = ph.shape[:2]
    s = min(HR_SIDE, h, w) // SCALE * SCALE
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    return np.ascontiguousarray(ph[y:y + s, x:x + s])


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    hr = hr_crop(seed, split, index)
    return bicubic(hr, SCALE, sample_rng(seed + 1, split, index)), hr


def available() -> bool:
    return bool(real_sources("photo", "train"))


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/lr/*.png`` + ``root/<split>/hr/*.png`` and ``root/sources.json``."""
    from .generate import write_pairs
    from .real_sources import write_manifest
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    real_sources("photo")
    write_manifest(root, {s: real_sources("photo", s) for s in sizes})
    return write_pairs(root, make_pair, sizes, ("lr", "hr"), exts=(".png", ".png"), seed=seed,
                       progress=progress, workers=workers)
