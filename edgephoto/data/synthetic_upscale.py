"""4x super-resolution from generated content, when no real photos have been fetched.

HR is a 256x256 image of ``edgephoto.data.synthetic_retouch.clean_image`` (crops of scikit-image's
photos and generated product scenes, with its held-out photos), LR its bicubic /4. Layout and
determinism as ``real_upscale``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .sr_degrade import bicubic
from .synthetic_retouch import clean_image

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}
SCALE = 4


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    hr = clean_image(seed, split, index)
    return bicubic(hr, SCALE, np.random.default_rng(0)), hr


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/lr/*.png`` + ``root/<split>/hr/*.png``."""
    from .generate import write_pairs
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    return write_pairs(root, make_pair, sizes, ("lr", "hr"), exts=(".png", ".png"), seed=seed,
                       progress=progress, workers=workers)
