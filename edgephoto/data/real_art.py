"""Art generation from real artworks: 128x128 crops of the fetched paintings, prints and game art.

The artworks are what ``edgephoto fetch`` keeps as kind ``art`` (rows ``gcompris-art``: old masters,
Japanese prints, impressionists rebuilt from GCompris' puzzle tiles, Van Gogh; ``wesnoth-art``:
painted portraits and landscapes), each with the ``style`` the fetcher recorded. Every artwork
belongs to one split, decided by a hash of its content group (``edgephoto.data.real_sources``: the
same picture twice, or two variants of one painting, always land in the same split), so no test
image is a crop of a training artwork.

Sample ``i`` of a split: an artwork of that split (drawn with weight ``1 / n_style ** STYLE_BALANCE``,
so the 200-odd portraits do not drown the handful of prints), a random square crop whose side is
``CROP_MIN``-``CROP_MAX`` of the artwork's short side, resized to ``SIDE`` (Lanczos), flipped
left-right half of the time, and a mild colour jitter (brightness, contrast, saturation, each
a factor within ``1 +- JITTER``). Deterministic: it depends only on ``(seed, split, i)`` and the
fetched artworks.

Layout (ArtBench-10 / ImageFolder style, one folder per style)::

    <root>/<split>/<style>/<split>_<i:05d>.png
    <root>/styles.json     all styles (the class list, sorted: index = class id, the same for every
                           split even when a split has no artwork of a style), images and artworks
                           per split and style
    <root>/sources.json    which artwork went to which split, with its licence

A split only has folders for the styles it has artworks of (an empty class folder breaks
``torchvision.datasets.ImageFolder``): take class ids from ``styles.json``, not from the folders.
"""

from __future__ import annotations

import json
import os
import re
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .generate import run_jobs
from .real_sources import SourceFile, load_photo, real_sources, sample_rng, split_files, write_manifest

SPLIT_SIZES = {"train": 3000, "val": 100, "test": 200}
SIDE = 128
CROP_MIN, CROP_MAX = 0.4, 1.0    # crop side, of the artwork's short side
JITTER = 0.08                    # brightness / contrast / saturation factors in [1 - J, 1 + J]
STYLE_BALANCE = 0.5              # 0: every artwork equally often; 1: every style equally often
SPLITS = ("train", "val", "test")

MakeImage = Callable[[int, str, int], np.ndarray]
StyleOf = Callable[[int, str, int], str]


def available() -> bool:
    """Fetched artworks in every split (``edgephoto fetch --only gcompris-art wesnoth-art``)."""
    return all(real_sources("art", s) for s in SPLITS)


def weights(files: Sequence[SourceFile], balance: float = STYLE_BALANCE) -> np.ndarray:
    """Drawing probabilities of the artworks: ``1 / (artworks of its style) ** balance``, normalized."""
    counts: Dict[str, int] = {}
    for f in files:
        counts[f.style] = counts.get(f.style, 0) + 1
    w = np.array([counts[f.style] ** -balance for f in files], np.float64)
    return w / w.sum()


def _choose(rng: np.random.Generator, files: Sequence[SourceFile]) -> SourceFile:
    return files[int(rng.choice(len(files), p=weights(files)))]


def style_of(seed: int, split: str, index: int) -> str:
    """The style of sample ``index`` (the same draw as ``make_image``, replayed)."""
    return _choose(sample_rng(seed, split, index), split_files("art", split)).style or "unknown"


def augment(art: np.ndarray, rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """Random square crop (``CROP_MIN``-``CROP_MAX`` of the short side) -> ``side`` px, random flip,
    mild colour jitter. Always draws the same random numbers in the same order."""
    h, w = art.shape[:2]
    short = min(h, w)
    s = int(np.clip(round(rng.uniform(CROP_MIN, CROP_MAX) * short), 1, short))
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    flip = rng.random() < 0.5
    b, c, sat = rng.uniform(1 - JITTER, 1 + JITTER, 3)
    im = Image.fromarray(np.ascontiguousarray(art[y:y + s, x:x + s]))
    im = im.resize((side, side), Image.LANCZOS if s >= side else Image.BICUBIC)
    a = np.asarray(im, np.float32)
    if flip:
        a = a[:, ::-1]
    a = a * b
    a = (a - a.mean()) * c + a.mean()
    grey = (a @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    a = grey + (a - grey) * sat
    return np.ascontiguousarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


def make_image(seed: int, split: str, index: int) -> np.ndarray:
    """Sample ``index`` of ``split``: uint8 ``SIDE`` x ``SIDE`` x 3."""
    rng = sample_rng(seed, split, index)
    art = _choose(rng, split_files("art", split))
    return augment(load_photo(str(art.path)), rng)


# --- writing a styled image set (shared with procedural_art) ----------------------------------

def _write_one(make: MakeImage, job: Tuple[int, str, int, str]) -> None:
    from ..runtime.imageio import save_atomic
    seed, split, i, path = job
    save_atomic(Image.fromarray(make(seed, split, i)), path)


STEM = re.compile(r"^[A-Za-z0-9-]+_\d{5}\.png$")  # the names write_styled_images gives


def write_styled_images(root: Path, make: MakeImage, style_of: StyleOf, sizes: Dict[str, int],
                        seed: int = 0, progress: Optional[Callable[[str, int, int], None]] = None,
                        workers: Optional[int] = None) -> Dict[str, Dict[str, int]]:
    """``root/<split>/<style_of(seed, split, i)>/<split>_<i:05d>.png`` from ``make(seed, split, i)``
    for ``i < sizes[split]``, in parallel; files already there are kept (generation is
    deterministic), samples of an earlier run that this one does not make are removed. Returns the
    images per split and style. ``make``/``style_of`` must be picklable module-level functions."""
    root = Path(root)
    workers = workers or os.cpu_count() or 1
    write = partial(_write_one, make)
    counts: Dict[str, Dict[str, int]] = {}
    for split, n in sizes.items():
        paths = [root / split / style_of(seed, split, i) / f"{split}_{i:05d}.png" for i in range(n)]
        wanted, dirs = set(paths), {p.parent for p in paths}
        for old in (root / split).glob("*/*.png") if (root / split).is_dir() else ():
            if old not in wanted and STEM.match(old.name):  # another source set or a larger size
                old.unlink()
        for d in (root / split).iterdir() if (root / split).is_dir() else ():
            if d.is_dir() and d not in dirs and not any(d.iterdir()):
                d.rmdir()     # a style folder left empty: ImageFolder would fail on it
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        jobs = [(seed, split, i, str(p)) for i, p in enumerate(paths) if not p.exists()]
        run_jobs(write, jobs, split, n, progress, workers)
        c: Dict[str, int] = {}
        for p in paths:
            c[p.parent.name] = c.get(p.parent.name, 0) + 1
        counts[split] = dict(sorted(c.items()))
    return counts


def write_styles(root: Path, styles: Sequence[str], images: Dict[str, Dict[str, int]],
                 extra: Optional[dict] = None) -> None:
    """``root/styles.json``: the class list (sorted) and the counts."""
    from ..runtime.manifest import write_json_atomic
    write_json_atomic(Path(root) / "styles.json", {
        "styles": sorted(styles), "side": SIDE,
        "images": {s: {st: c.get(st, 0) for st in sorted(styles)} for s, c in images.items()},
        **(extra or {})})


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/<style>/*.png``, ``root/styles.json`` and ``root/sources.json``."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    every = real_sources("art")                  # hash the sources once, before the workers fork
    used: Dict[str, List[SourceFile]] = {s: split_files("art", s) for s in sizes}
    write_manifest(root, used)
    images = write_styled_images(root, make_image, style_of, sizes, seed=seed, progress=progress,
                                 workers=workers)
    styles = sorted({f.style or "unknown" for f in every})
    artworks = {s: {st: sum((f.style or "unknown") == st for f in files) for st in styles}
                for s, files in used.items()}
    write_styles(root, styles, images, {"source": "real", "artworks": artworks,
                                        "style_balance": STYLE_BALANCE})
    return dict(sizes)


if __name__ == "__main__":  # a quick look: python -m edgephoto.data.real_art OUT [N]
    import sys
    out = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    print(json.dumps(generate(out, sizes={"train": n, "val": n, "test": n}, workers=1)))
