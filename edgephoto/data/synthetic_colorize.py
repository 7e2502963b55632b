"""Colorization from generated content, when no real photos have been fetched: the colour image is
``edgephoto.data.synthetic_retouch.clean_image`` (scikit-image photo crops and product scenes,
256x256), the input its grey with the same L*, as in ``real_colorize``. Some of scikit-image's
photos are grey (camera, moon, coins, ...): a grey truth teaches a colorizer to return grey, and it
makes the grey input score a capped 100 dB PSNR that swamps the split's mean, so such crops are
redrawn (``colour_sample``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .real_colorize import colour_sample, gray_of
from .synthetic_retouch import clean_image

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    color = colour_sample(lambda attempt: clean_image(seed + attempt, split, index))
    return gray_of(color), color


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    from .generate import write_pairs
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    return write_pairs(root, make_pair, sizes, ("gray", "color"), exts=(".png", ".png"), seed=seed,
                       progress=progress, workers=workers)
