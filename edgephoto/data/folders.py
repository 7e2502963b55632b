"""Readers for users' datasets in their usual layouts.

- ``PairFolder(images_dir, targets_dir)``: files matched by stem, e.g. DUTS (``DUTS-TR-Image`` +
  ``DUTS-TR-Mask``) or MIT-Adobe FiveK style (input + retouched target).
- ``PhotoFolder(dir)``: every readable photo in a folder (calibration, qualitative output).

Both are lazy: they list files up front and decode on access, so a 10k-image folder costs no RAM.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageOps

from ..errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class DatasetError(UserError, ValueError):
    """A dataset folder that cannot be used; the message is one line for the user."""


def list_images(folder: Path) -> List[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_rgb(path: Path, size: Tuple[int, int] | None = None) -> np.ndarray:
    """Decode any photo to uint8 RGB (EXIF orientation applied), optionally resized to (w, h)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im = im.convert("RGB")
        if size is not None and im.size != tuple(size):
            im = im.resize(tuple(size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8).copy()


def load_gray(path: Path, size: Tuple[int, int] | None = None) -> np.ndarray:
    """Decode a mask to float32 in [0, 1]."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I"):
            arr = np.asarray(im, dtype=np.float32)
            arr = arr / (65535.0 if arr.max() > 255 else 255.0)
            im = Image.fromarray((arr * 255).round().astype(np.uint8))
        im = im.convert("L")
        if size is not None and im.size != tuple(size):
            im = im.resize(tuple(size), Image.BILINEAR)
        return np.asarray(im, dtype=np.float32) / 255.0


class PairFolder:
    """Images and targets matched by file stem; stems present on one side only are an error."""

    def __init__(self, images_dir: Path, targets_dir: Path) -> None:
        self.images_dir, self.targets_dir = Path(images_dir), Path(targets_dir)
        imgs = {p.stem: p for p in list_images(self.images_dir)}
        tgts = {p.stem: p for p in list_images(self.targets_dir)}
        if not imgs:
            raise DatasetError(f"no images in {self.images_dir}")
        missing = sorted(set(imgs) - set(tgts))
        if missing:
            raise DatasetError(
                f"{len(missing)} image(s) in {self.images_dir} have no target in {self.targets_dir} "
                f"(first: {missing[0]})")
        self.stems = sorted(imgs)
        self.pairs: List[Tuple[Path, Path]] = [(imgs[s], tgts[s]) for s in self.stems]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> Tuple[Path, Path]:
        return self.pairs[i]


class PhotoFolder:
    def __init__(self, folder: Path, limit: int | None = None) -> None:
        self.paths = list_images(folder)
        if not self.paths:
            raise DatasetError(f"no photos in {folder}")
        if limit is not None:
            self.paths = self.paths[:limit]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Path:
        return self.paths[i]


def find_split(root: Path, split: str, image_dir: str = "images", target_dir: str = "masks") -> PairFolder:
    """``root/<split>/images`` + ``root/<split>/masks`` (the layout ``edgephoto data`` writes)."""
    base = Path(root) / split
    if not base.is_dir():
        raise DatasetError(f"dataset split not found: {base} (run `edgephoto data` or pass --data)")
    return PairFolder(base / image_dir, base / target_dir)
