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

from .real_sources import real_sources, sample_rng, square_crop, write_photo_pairs
from .sr_degrade import bicubic

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}
HR_SIDE = 256
SCALE = 4


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    hr = square_crop(seed, split, index, HR_SIDE, SCALE)
    return bicubic(hr, SCALE, sample_rng(seed + 1, split, index)), hr


def available() -> bool:
    return bool(real_sources("photo", "train"))


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/lr/*.png`` + ``root/<split>/hr/*.png`` and ``root/sources.json``."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    return write_photo_pairs(root, make_pair, sizes, ("lr", "hr"), (".png", ".png"), seed=seed,
                             progress=progress, workers=workers)
