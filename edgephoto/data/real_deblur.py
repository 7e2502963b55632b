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
from .real_sources import load_photo, real_sources, sample_rng, split_files

SPLIT_SIZES = {"train": 1500, "val": 50, "test": 100}
SIDE = 256


def sharp_crop(seed: int, split: str, index: int) -> np.ndarray:
    rng = sample_rng(seed, split, index)
    photos = split_files("photo", split)
    ph = load_photo(str(photos[int(rng.integers(len(photos)))].path))
    h, w = ph.shape[:2]
    s = min(SIDE, h, w)
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    return np.ascontiguousarray(ph[y:y + s, x:x + s])


def make_pair(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    sharp = sharp_crop(seed, split, index)
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
    from .generate import write_pairs
    from .real_sources import write_manifest
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    real_sources("photo")
    write_manifest(root, {s: real_sources("photo", s) for s in sizes})
    out = write_pairs(root, make_pair, sizes, ("blurred", "sharp"), exts=(".png", ".png"), seed=seed,
                      progress=progress, workers=workers)
    write_blur_index(root, sizes, seed, blur_kind)
    return out
