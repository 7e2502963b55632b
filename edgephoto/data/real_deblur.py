"""Deblurring from real photographs: (blurred, sharp) pairs cut from the fetched photos.

The sharp image is a ``SIDE`` x ``SIDE`` crop of one of the split's photos (``edgephoto fetch``;
split by source file, see ``edgephoto.data.real_sources``) at its decoded resolution; the input is
that crop blurred by one of ``edgephoto.data.blur.BLURS`` (box 14x14, motion, defocus) plus sensor
noise, chosen per sample. Which blur each sample got is recorded in ``<split>/blur.json`` (stem ->
name), so metrics can be split by blur type.

Layout (pix2pix-like pairs): ``<split>/blurred/*.png``, ``<split>/sharp/*.png``.
Deterministic: sample ``i`` of a split depends only on ``(seed, split, i)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .blur import blur
from .real_sources import real_sources, sample_rng, square_crop, write_photo_pairs

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}
SIDE = 256


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    sharp = square_crop(seed, split, index, SIDE)
    blurred, _ = blur(sharp, sample_rng(seed + 1, split, index))
    return blurred, sharp


def blur_kind(seed: int, split: str, index: int) -> str:
    """The blur ``make_pair`` chose for this sample (the same random stream, replayed)."""
    from .blur import BLURS
    rng = sample_rng(seed + 1, split, index)
    return BLURS.names()[int(rng.integers(len(BLURS.names())))]


def write_blur_index(root: Path, sizes: Dict[str, int], seed: int, kind_of: Callable[[int, str, int], str]) -> None:
    for split, n in sizes.items():
        index = {f"{split}_{i:05d}": kind_of(seed, split, i) for i in range(n)}
        (Path(root) / split).mkdir(parents=True, exist_ok=True)
        (Path(root) / split / "blur.json").write_text(json.dumps(index, indent=0, sort_keys=True) + "\n")


def available() -> bool:
    return bool(real_sources("photo", "train"))


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/blurred/*.png`` + ``root/<split>/sharp/*.png``, ``blur.json`` per split
    and ``root/sources.json``."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    out = write_photo_pairs(root, make_pair, sizes, ("blurred", "sharp"), (".png", ".png"), seed=seed,
                            progress=progress, workers=workers)
    write_blur_index(root, sizes, seed, blur_kind)
    return out
