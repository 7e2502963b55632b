"""Tell photographs from drawings, renders and flat-colour art, with a few measurable statistics.

Packages mix real photos with cartoons, icons, test charts and abstract renders; only photos are
wanted. ``measure`` computes, on a copy at most ``SIDE`` pixels on its long side (only opaque
pixels for cut-outs):

- ``fill``: fraction of pixels covered by the 16 most frequent exact colours. Drawings are flat
  fills, so a few colours cover most of them; in a photo even a clear sky is a gradient of many.
- ``texture``: fraction of pixels whose luma Laplacian, |4c - up - down - left - right| on 0..255,
  is at least 3. Photos have grain and fine detail nearly everywhere; fills have
  none, and smooth renders and gradients (a colour wheel, an abstract wallpaper) have steps but
  no curvature, so they score low too.
- ``flat``: fraction of pixels whose luma matches their neighbours' to within 1/255. A photo with
  a large sky is flat too, so for photos it decides nothing; a cut-out is all object, and there
  shaded clip art is flat where a photographed object has grain (cut-outs only).
- ``colours``: distinct colours at 5 bits per channel. Flat art uses a few hundred at most (photos
  only: a small photographed lemon, eggplant or mallet has under 256 too).
- ``chroma``: mean |R-G| + |G-B|; below 2 the image is grey (useless as a colour photo).

``classify`` applies the thresholds below (``cutout=True``: the cut-out set of them), each named
in the reason it gives, so a dropped file says why (``drawing: 16 colours cover 0.71 > 0.40``). Thresholds were set on the packaged sources themselves
(see the counts ``edgephoto fetch`` prints and the scores in ``sources/index.json``). Run
``python -m edgephoto.fetch.drawings IMAGE...`` to see the numbers for any file.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Optional, Tuple

import numpy as np

SIDE = 256            # analysis size: big enough for texture, small enough to be quick
FILL_MAX = 0.40       # 16 colours cover more than this: flat art
TEXTURE_MIN = 0.30    # less fine detail than this: a drawing or a smooth render
COLOURS_MIN = 256     # fewer 5-bit colours than this: flat art
CHROMA_MIN = 2.0      # a grey image
OPAQUE = 250          # alpha from which a cut-out pixel counts as object, not edge
MIN_OPAQUE_PIXELS = 400
# cut-outs: set by eye on the 370 Tux Paint stamps that have alpha (a contact sheet of every
# dropped one). The colour count dropped 40-odd photographed fruit, flowers and tools (87-252
# colours) and decided no drawing the flatness test misses; flatness separates them: photographed
# objects 0.01-0.34, shaded clip art 0.35-0.70 (one soft-shaded bird gets through).
CUTOUT_FLAT_MAX = 0.35
CUTOUT_MIN_PIXELS = 1000   # smaller opaque areas (22x22 smileys) say too little either way


def measure(img: Any, cutout: bool = False) -> Dict[str, float]:
    """The statistics above for a PIL image (``cutout``: only pixels with alpha >= OPAQUE)."""
    from PIL import Image

    im = img.convert("RGBA") if cutout else img.convert("RGB")
    if max(im.size) > SIDE:
        scale = SIDE / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BOX)
    a = np.asarray(im)
    rgb = a[..., :3].astype(np.int16)
    valid = a[..., 3] >= OPAQUE if cutout else np.ones(rgb.shape[:2], bool)
    luma = (rgb @ np.array([299, 587, 114])) // 1000
    # a pixel counts only where it and its 4 neighbours are valid, so a cut-out's silhouette edge
    # is not taken for detail
    ok = valid[1:-1, 1:-1] & valid[:-2, 1:-1] & valid[2:, 1:-1] & valid[1:-1, :-2] & valid[1:-1, 2:]
    c = luma[1:-1, 1:-1]
    lap = np.abs(4 * c - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:])[ok]
    step = np.maximum(np.abs(c - luma[1:-1, 2:]), np.abs(c - luma[2:, 1:-1]))[ok]
    n = int(lap.size)
    px = rgb[valid].astype(np.int32)
    if n == 0:
        return {"pixels": 0, "flat": 1.0, "texture": 0.0, "fill": 1.0, "colours": 0, "chroma": 0.0}
    q = px >> 3
    colours = len(np.unique((q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]))
    chroma = float(np.mean(np.abs(px[:, 0] - px[:, 1]) + np.abs(px[:, 1] - px[:, 2])))
    _, counts = np.unique((px[:, 0] << 16) | (px[:, 1] << 8) | px[:, 2], return_counts=True)
    fill = float(np.sort(counts)[-16:].sum()) / len(px)
    return {"pixels": n,
            "flat": round(float(np.mean(step <= 1)), 4),
            "texture": round(float(np.mean(lap >= 3)), 4),
            "fill": round(fill, 4),
            "colours": int(colours),
            "chroma": round(chroma, 2)}


def classify(stats: Dict[str, float], cutout: bool = False) -> Tuple[bool, Optional[str]]:
    """``(is_photo, reason it is not)`` from ``measure``'s statistics; the first failed test wins.
    ``cutout``: the statistics are of a cut-out's opaque pixels (``measure(..., cutout=True)``)."""
    min_pixels = CUTOUT_MIN_PIXELS if cutout else MIN_OPAQUE_PIXELS
    if stats["pixels"] < min_pixels:
        return False, f"too few opaque pixels ({stats['pixels']} < {min_pixels})"
    if stats["chroma"] < CHROMA_MIN:
        return False, f"grey: chroma {stats['chroma']:.2f} < {CHROMA_MIN}"
    if stats["fill"] > FILL_MAX:
        return False, f"drawing: 16 colours cover {stats['fill']:.2f} > {FILL_MAX:.2f}"
    if stats["texture"] < TEXTURE_MIN:
        return False, f"drawing: texture {stats['texture']:.2f} < {TEXTURE_MIN:.2f}"
    if cutout and stats["flat"] >= CUTOUT_FLAT_MAX:
        return False, f"drawing: flat {stats['flat']:.2f} >= {CUTOUT_FLAT_MAX:.2f}"
    if not cutout and stats["colours"] < COLOURS_MIN:
        return False, f"drawing: {stats['colours']} colours < {COLOURS_MIN}"
    return True, None


def main(argv: Optional[list] = None) -> int:
    from PIL import Image

    for path in (argv if argv is not None else sys.argv[1:]):
        with Image.open(path) as im:
            cut = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            stats = measure(im, cutout=cut)
        ok, why = classify(stats, cutout=cut)
        print(f"{'photo  ' if ok else 'DROPPED'} {path}: {stats}" + ("" if ok else f" ({why})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
