"""Art generation without fetched artworks: procedural "paintings", 128x128, in the real recipe's layout.

The fallback of ``edgephoto.data.real_art`` when ``edgephoto fetch`` has no art: three styles drawn
with numpy + Pillow, each at twice the size and then reduced (smooth edges), all with the same
painterly finish:

- ``abstract-shapes``: a graded ground and 5-12 overlapping translucent ellipses, rotated
  rectangles, polygons and bars in one colour scheme;
- ``stripes``: bands of random widths in a palette, horizontal, vertical or diagonal, their edges
  wavering as if painted by hand;
- ``landscape-like``: a sky gradient (sometimes a sun), two to four ridges that pale with distance
  (aerial perspective) and a foreground field, sometimes a lake reflecting the sky;
- the finish: a few hundred short brush strokes that pick up the colour under them and follow a
  smooth flow field, then a faint canvas grain.

Palettes come from one hue and a scheme (analogous, complementary, triadic, split-complementary).
Styles take turns (sample ``i`` has style ``STYLES[i % 3]``); everything else depends only on
``(seed, split, i)``. Layout and ``styles.json`` as in ``real_art`` (no ``sources.json``: nothing
was fetched): ``<root>/<split>/<style>/<split>_<i:05d>.png``.
"""

from __future__ import annotations

import colorsys
import zlib
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
from PIL import Image, ImageDraw

from .real_art import SIDE, write_styled_images, write_styles

SPLIT_SIZES = {"train": 3000, "val": 100, "test": 200}
STYLES = ("abstract-shapes", "stripes", "landscape-like")
RENDER = 2          # drawn at RENDER * SIDE, then reduced
SCHEMES = {"analogous": (0.0, 0.06, -0.06, 0.11, -0.11), "complementary": (0.0, 0.5, 0.04, 0.54, 0.0),
           "triadic": (0.0, 1 / 3, 2 / 3, 0.03, 0.36), "split": (0.0, 0.42, 0.58, 0.05, 0.0)}


def available() -> bool:
    return True


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index, 47])


def style_of(seed: int, split: str, index: int) -> str:
    return STYLES[index % len(STYLES)]


def palette(rng: np.random.Generator, n: int = 5) -> np.ndarray:
    """``n`` RGB colours (float 0..255) of one scheme around a random hue."""
    hue = rng.random()
    offsets = SCHEMES[list(SCHEMES)[int(rng.integers(len(SCHEMES)))]]
    out = []
    for i in range(n):
        s = float(np.clip(rng.uniform(0.25, 0.85), 0, 1))
        v = float(rng.uniform(0.3, 0.97))
        out.append(colorsys.hsv_to_rgb((hue + offsets[i % len(offsets)]) % 1.0, s, v))
    return np.array(out, np.float32) * 255


def _gradient(size: int, c0: np.ndarray, c1: np.ndarray, angle: float) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    t = (x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return c0 * (1 - t[..., None]) + c1 * t[..., None]


def _colour(c: np.ndarray, rng: np.random.Generator, spread: float = 14.0) -> tuple:
    return tuple(int(v) for v in np.clip(c + rng.normal(0, spread, 3), 0, 255))


def abstract_shapes(rng: np.random.Generator, size: int, pal: np.ndarray) -> np.ndarray:
    ground = _gradient(size, pal[0], pal[1] * 0.8 + pal[0] * 0.2, rng.uniform(0, 2 * np.pi))
    im = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8)).convert("RGBA")
    for _ in range(int(rng.integers(5, 13))):
        layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        fill = _colour(pal[int(rng.integers(len(pal)))], rng) + (int(rng.integers(140, 256)),)
        cx, cy = rng.uniform(-0.1, 1.1, 2) * size
        r = rng.uniform(0.06, 0.35) * size
        kind = int(rng.integers(4))
        if kind == 0:      # ellipse
            rx, ry = r, r * rng.uniform(0.4, 1.6)
            d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)
        elif kind == 1:    # rotated rectangle
            a, w, h = rng.uniform(0, np.pi), r, r * rng.uniform(0.2, 1.2)
            pts = [(cx + dx * np.cos(a) - dy * np.sin(a), cy + dx * np.sin(a) + dy * np.cos(a))
                   for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h))]
            d.polygon(pts, fill=fill)
        elif kind == 2:    # irregular polygon
            k = int(rng.integers(3, 7))
            angles = np.sort(rng.uniform(0, 2 * np.pi, k))
            radii = r * rng.uniform(0.5, 1.2, k)
            d.polygon([(cx + q * np.cos(t), cy + q * np.sin(t)) for t, q in zip(angles, radii)], fill=fill)
        else:              # a bold bar
            a = rng.uniform(0, np.pi)
            d.line((cx - r * np.cos(a), cy - r * np.sin(a), cx + r * np.cos(a), cy + r * np.sin(a)),
                   fill=fill, width=int(rng.integers(size // 40, size // 12)))
        im = Image.alpha_composite(im, layer)
    return np.asarray(im.convert("RGB"), np.float32)


def stripes(rng: np.random.Generator, size: int, pal: np.ndarray) -> np.ndarray:
    angle = float(rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4])) + rng.normal(0, 0.08)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    for _ in range(2):  # a hand-drawn waver of the edges
        u = u + rng.uniform(1, 6) * RENDER * np.sin(2 * np.pi * v / (size * rng.uniform(0.15, 0.8))
                                                    + rng.uniform(0, 2 * np.pi))
    lo, hi = float(u.min()), float(u.max())
    widths = rng.uniform(0.03, 0.2, 64) * size
    edges = lo + np.cumsum(widths)
    edges = edges[edges < hi]
    band = np.searchsorted(edges, u)
    colours = np.stack([np.clip(pal[int(rng.integers(len(pal)))] + rng.normal(0, 10, 3), 0, 255)
                        for _ in range(len(edges) + 1)])
    img = colours[band]
    shade = 1 + 0.06 * np.sin(2 * np.pi * v / size * rng.uniform(0.5, 2) + rng.uniform(0, 6.3))
    return img * shade[..., None]


def landscape_like(rng: np.random.Generator, size: int, pal: np.ndarray) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    sky_top = np.clip(pal[0] * 0.6 + np.array([90, 120, 170]) * 0.4, 0, 255)
    horizon = np.clip(pal[1] * 0.4 + np.array([235, 215, 190]) * 0.6, 0, 255)
    t = (y / size)[..., None]
    img = sky_top * (1 - t) + horizon * t
    if rng.random() < 0.5:  # a sun with a glow
        sx, sy, sr = rng.uniform(0.15, 0.85) * size, rng.uniform(0.1, 0.4) * size, rng.uniform(0.03, 0.08) * size
        dist = np.hypot(x - sx, y - sy)
        glow = np.exp(-np.maximum(dist - sr, 0) / (sr * 1.5))[..., None]
        img = img * (1 - 0.6 * glow) + np.array([255, 240, 200]) * 0.6 * glow
    n = int(rng.integers(2, 5))
    lines = np.sort(rng.uniform(0.3, 0.75, n)) * size       # far ridges sit higher
    xs = np.arange(size, dtype=np.float32) / size
    for k, base in enumerate(lines):
        depth = (k + 1) / n                                  # 0: far, 1: near
        h = np.full(size, base, np.float32)
        for j in range(4):
            f = rng.uniform(0.5, 1.5) * 2 ** j
            h -= rng.uniform(0.02, 0.12) / (j + 1) * size * np.sin(2 * np.pi * f * xs + rng.uniform(0, 6.3))
        colour = pal[2 + k % 3] * (0.55 + 0.35 * (1 - depth)) * depth + horizon * (1 - depth) * 0.9
        below = y >= h[None, :]
        shade = 1 - 0.25 * np.clip((y - h[None, :]) / (0.4 * size), 0, 1)
        img = np.where(below[..., None], colour * shade[..., None], img)
    if rng.random() < 0.35:  # a lake: the sky mirrored in the lower part
        top = int(rng.uniform(0.7, 0.85) * size)
        mirror = img[np.clip(2 * top - np.arange(top, size), 0, size - 1)] * 0.85
        img[top:] = mirror * 0.8 + pal[0] * 0.2 * 0.85
    field = int(rng.uniform(0.82, 0.95) * size)
    fc = np.clip(pal[int(rng.integers(len(pal)))] * 0.6 + np.array([90, 110, 60]) * 0.4, 0, 255)
    img[field:] = img[field:] * 0.3 + fc * 0.7
    return img


RENDERERS = {"abstract-shapes": abstract_shapes, "stripes": stripes, "landscape-like": landscape_like}


def brush_strokes(img: np.ndarray, rng: np.random.Generator, strokes: int) -> np.ndarray:
    """Short strokes that take the colour under them (jittered) along a smooth flow field."""
    size = img.shape[0]
    base = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    a0, fx, fy, p1, p2 = rng.uniform(0, np.pi), *rng.uniform(1, 4, 2), *rng.uniform(0, 6.3, 2)
    pos = rng.uniform(0, size - 1, (strokes, 2))
    lengths = rng.uniform(3, 10, strokes) * RENDER
    widths = rng.integers(1, 4, strokes) * RENDER
    jitter = rng.normal(0, 9, (strokes, 3))
    alphas = rng.integers(70, 190, strokes)
    for (px, py), L, w, j, al in zip(pos, lengths, widths, jitter, alphas):
        ang = a0 + 1.2 * np.sin(fx * px / size * 2 * np.pi + p1) * np.cos(fy * py / size * 2 * np.pi + p2)
        c = np.clip(img[int(py), int(px)] + j, 0, 255).astype(int)
        dx, dy = L / 2 * np.cos(ang), L / 2 * np.sin(ang)
        d.line((px - dx, py - dy, px + dx, py + dy), fill=(int(c[0]), int(c[1]), int(c[2]), int(al)),
               width=int(w))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"), np.float32)


def make_image(seed: int, split: str, index: int) -> np.ndarray:
    """Sample ``index`` of ``split``: uint8 ``SIDE`` x ``SIDE`` x 3."""
    rng = _rng(seed, split, index)
    size = SIDE * RENDER
    pal = palette(rng)
    img = RENDERERS[style_of(seed, split, index)](rng, size, pal)
    img = brush_strokes(img, rng, int(rng.integers(250, 600)))
    small = np.asarray(Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))
                       .resize((SIDE, SIDE), Image.LANCZOS), np.float32)
    small = small + rng.normal(0, 2.0, (SIDE, SIDE, 1))      # canvas grain
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/<style>/*.png`` and ``root/styles.json``."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    images = write_styled_images(root, make_image, style_of, sizes, seed=seed, progress=progress,
                                 workers=workers)
    write_styles(root, STYLES, images, {"source": "procedural"})
    return dict(sizes)
