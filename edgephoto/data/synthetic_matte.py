"""The built-in background-removal dataset: generated scenes whose masks are exact.

Each sample is a background (a blurred crop of a built-in photo, or a procedural texture) with
1-3 foreground objects composited over it. Objects are ellipses, rounded rectangles, stars,
polygons or smooth blobs, filled with shaded colours, textures or sharp photo crops, with soft
(anti-aliased or feathered) edges, optional drop shadows (not part of the mask), and some placed
touching the image border. The alpha used for compositing *is* the ground-truth mask.

Deterministic: sample ``i`` of a split depends only on ``(seed, split, i)``.

Write it to disk in the DUTS layout with ``edgephoto data --task matte`` (or ``generate(...)``).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .photos import builtin_photos

SPLIT_SIZES = {"train": 2000, "val": 100, "test": 200}


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


# ------------------------------------------------------------------ textures
def _smooth_noise(rng, h: int, w: int, scale: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: random grid upsampled bicubically."""
    gh, gw = max(2, h // scale + 2), max(2, w // scale + 2)
    grid = (rng.random((gh, gw)) * 255).astype(np.uint8)
    im = Image.fromarray(grid).resize((w, h), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0


def _random_color(rng, vivid: bool) -> np.ndarray:
    if vivid:
        c = rng.random(3)
        c[rng.integers(3)] = rng.uniform(0.0, 0.25)
        c[rng.integers(3)] = rng.uniform(0.75, 1.0)
        return c
    return rng.uniform(0.2, 0.8, 3) * rng.uniform(0.7, 1.0)


def _photo_crop(rng, h: int, w: int) -> np.ndarray | None:
    photos = builtin_photos()
    if not photos:
        return None
    p = photos[rng.integers(len(photos))]
    ph, pw = p.shape[:2]
    s = rng.uniform(0.3, 1.0)
    ch, cw = max(8, int(ph * s)), max(8, int(pw * s))
    y, x = rng.integers(0, ph - ch + 1), rng.integers(0, pw - cw + 1)
    crop = Image.fromarray(p[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(crop, dtype=np.float32) / 255.0


def _procedural_texture(rng, h: int, w: int, vivid: bool) -> np.ndarray:
    kind = rng.integers(4)
    c1, c2 = _random_color(rng, vivid), _random_color(rng, vivid)
    if kind == 0:  # linear gradient
        ang = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (np.cos(ang) * xx / w + np.sin(ang) * yy / h)
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    elif kind == 1:  # clouds
        t = _smooth_noise(rng, h, w, int(rng.integers(8, 64)))
    elif kind == 2:  # stripes / waves
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        f = rng.uniform(0.02, 0.2)
        ang = rng.uniform(0, np.pi)
        t = 0.5 + 0.5 * np.sin(f * (np.cos(ang) * xx + np.sin(ang) * yy))
    else:  # checker
        s = int(rng.integers(6, 40))
        yy, xx = np.mgrid[0:h, 0:w]
        t = (((yy // s) + (xx // s)) % 2).astype(np.float32)
    t = t[..., None]
    img = c1 * (1 - t) + c2 * t
    img *= 0.85 + 0.3 * _smooth_noise(rng, h, w, 32)[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def _background(rng, h: int, w: int) -> np.ndarray:
    bg = _photo_crop(rng, h, w) if rng.random() < 0.6 else None
    if bg is None:
        bg = _procedural_texture(rng, h, w, vivid=False)
    # backgrounds are out of focus and a little muted, as behind a photographed object
    radius = rng.uniform(1.5, 6.0)
    im = Image.fromarray((bg * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    bg = np.asarray(im, dtype=np.float32) / 255.0
    gray = bg.mean(axis=2, keepdims=True)
    return np.clip(gray + (bg - gray) * rng.uniform(0.5, 1.0), 0, 1)


# ------------------------------------------------------------------ shapes
def _shape_mask(rng, h: int, w: int, ss: int = 4) -> np.ndarray:
    """An anti-aliased object silhouette in [0, 1] (drawn at ``ss``x and downsampled)."""
    H, W = h * ss, w * ss
    im = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(im)
    size = rng.uniform(0.25, 0.65) * min(H, W)
    cx = rng.uniform(0.1, 0.9) * W
    cy = rng.uniform(0.15, 0.95) * H
    if rng.random() < 0.15:  # touch a border
        side = rng.integers(4)
        cx = [0.05 * W, 0.95 * W, cx, cx][side]
        cy = [cy, cy, 0.05 * H, 0.97 * H][side]
    kind = rng.integers(5)
    if kind == 0:  # ellipse
        a, b = size * rng.uniform(0.4, 0.7), size * rng.uniform(0.3, 0.7)
        d.ellipse([cx - a, cy - b, cx + a, cy + b], fill=255)
    elif kind == 1:  # rounded rectangle
        a, b = size * rng.uniform(0.3, 0.6), size * rng.uniform(0.3, 0.7)
        d.rounded_rectangle([cx - a, cy - b, cx + a, cy + b], radius=float(rng.uniform(0, min(a, b))),
                            fill=255)
    elif kind == 2:  # star
        n = int(rng.integers(4, 9))
        r_out, r_in = size * 0.55, size * rng.uniform(0.2, 0.45)
        rot = rng.uniform(0, np.pi)
        pts = [(cx + (r_out if k % 2 == 0 else r_in) * np.cos(rot + k * np.pi / n),
                cy + (r_out if k % 2 == 0 else r_in) * np.sin(rot + k * np.pi / n)) for k in range(2 * n)]
        d.polygon(pts, fill=255)
    elif kind == 3:  # random polygon
        n = int(rng.integers(3, 9))
        angs = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = size * rng.uniform(0.25, 0.6, n)
        d.polygon([(cx + r * np.cos(t), cy + r * np.sin(t)) for r, t in zip(rad, angs)], fill=255)
    else:  # smooth blob: thresholded low-frequency noise inside a disc
        m = Image.new("L", (W, H), 0)
        ImageDraw.Draw(m).ellipse([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], fill=255)
        small = _smooth_noise(rng, h, w, int(rng.integers(12, 40)))
        noise = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((W, H), Image.BICUBIC))
        disc = np.asarray(m.filter(ImageFilter.GaussianBlur(size / 6)), dtype=np.float32) / 255
        blob = (disc * 0.7 + noise / 255.0 * 0.6) > 0.75
        im = Image.fromarray((blob * 255).astype(np.uint8))
    im = im.resize((w, h), Image.BOX)
    mask = np.asarray(im, dtype=np.float32) / 255.0
    if rng.random() < 0.3:  # feathered edges (hair, fur, motion)
        r = rng.uniform(0.8, 2.5)
        mask = np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(r)),
                          dtype=np.float32) / 255.0
    return mask


def _foreground(rng, h: int, w: int) -> np.ndarray:
    r = rng.random()
    if r < 0.35:
        fg = _photo_crop(rng, h, w)
        if fg is not None:
            return fg
    if r < 0.7:
        return _procedural_texture(rng, h, w, vivid=True)
    # solid object with directional shading
    c = _random_color(rng, vivid=True)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    shade = 0.75 + 0.35 * (np.cos(ang) * xx / w + np.sin(ang) * yy / h)
    return np.clip(c * shade[..., None], 0, 1).astype(np.float32)


# ------------------------------------------------------------------ scene
def make_sample(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    """One (image uint8 HxWx3, mask uint8 HxW) pair."""
    rng = _rng(seed, split, index)
    w = int(rng.choice([256, 288, 320, 352, 384]))
    h = int(rng.choice([256, 288, 320, 352, 384]))
    img = _background(rng, h, w)
    alpha = np.zeros((h, w), np.float32)
    n_obj = int(rng.choice([1, 1, 1, 2, 2, 3]))
    for _ in range(n_obj):
        m = _shape_mask(rng, h, w)
        if m.max() < 0.5:
            continue
        if rng.random() < 0.5:  # drop shadow on what is behind the object
            dx, dy = rng.integers(-12, 13), rng.integers(2, 16)
            sh = np.roll(np.roll(m, dy, axis=0), dx, axis=1)
            sh = np.asarray(Image.fromarray((sh * 255).astype(np.uint8)).filter(
                ImageFilter.GaussianBlur(rng.uniform(3, 9))), dtype=np.float32) / 255.0
            img = img * (1 - rng.uniform(0.3, 0.6) * sh[..., None])
        fg = _foreground(rng, h, w)
        img = img * (1 - m[..., None]) + fg * m[..., None]
        alpha = alpha + m * (1 - alpha)
    if alpha.max() < 0.5:  # guarantee one object
        m = _shape_mask(rng, h, w)
        fg = _foreground(rng, h, w)
        img = img * (1 - m[..., None]) + fg * m[..., None]
        alpha = alpha + m * (1 - alpha)
    img = img + rng.normal(0, rng.uniform(0.0, 0.02), img.shape)  # sensor noise
    img_u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    mask_u8 = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
    return img_u8, mask_u8


def generate(root: Path, seed: int = 0, sizes: Dict[str, int] | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             workers: int | None = None) -> Dict[str, int]:
    """Write ``root/<split>/images/*.jpg`` and ``root/<split>/masks/*.png`` (DUTS layout); existing pairs are kept."""
    from .generate import write_pairs
    return write_pairs(root, make_sample, dict(SPLIT_SIZES if sizes is None else sizes), ("images", "masks"), seed=seed,
                       progress=progress, workers=workers)
