"""Deblurring from generated content, when no real photos have been fetched: the sharp image is
``edgephoto.data.synthetic_retouch.clean_image`` (256x256), blurred as in ``real_deblur``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .blur import BLURS, blur
from .real_deblur import write_blur_index
from .synthetic_retouch import clean_image

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, {"train": 0, "val": 1, "test": 2}.get(split, 3), index, 11])


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    sharp = clean_image(seed, split, index)
    blurred, _ = blur(sharp, _rng(seed, split, index))
    return blurred, sharp


def blur_kind(seed: int, split: str, index: int) -> str:
    return BLURS.names()[int(_rng(seed, split, index).integers(len(BLURS.names())))]


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    from .generate import write_pairs
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    out = write_pairs(root, make_pair, sizes, ("blurred", "sharp"), exts=(".png", ".png"), seed=seed,
                      progress=progress, workers=workers)
    write_blur_index(root, sizes, seed, blur_kind)
    return out
