"""Background-removal pairs from real material: fetched cut-outs composited onto fetched photos.

Each sample is a crop of a real photograph with 1-3 real cut-outs (soft alpha, from
``tuxpaint-stamps-default``) placed on it; the union of their alphas is the exact mask. What makes
the composites look like photographs rather than stickers:

- scale and position: the main object covers 30-85% of the frame, others less; 15% of objects run
  off the frame; later objects occlude earlier ones (the mask is their union);
- light: each object's colour and brightness are pulled part-way toward the background's
  (harmonisation), with a random gain, contrast and white-balance jitter;
- a soft contact / drop shadow on the background under half of the objects (not in the mask);
- depth of field: 30% of backgrounds are defocused, and objects get a slight blur matching the
  photo's softness;
- one sensor-noise level and one JPEG quality for the whole frame, so object and background share
  the same grain.

Backgrounds and cut-outs of a split come only from that split's source files
(``edgephoto.data.real_sources``): no test composite shares a photo or a cut-out with training.

Optionally, training also gets *pseudo-labelled* real photos (``pseudo_label_photos``): a teacher
(the imported U2-Netp, by default) labels training photos that have no mask, and only its confident
answers are kept.

Deterministic: sample ``i`` of a split depends only on ``(seed, split, i)``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageFilter

from .real_sources import load_photo, real_sources, sample_rng, split_files

SPLIT_SIZES = {"train": 3000, "val": 100, "test": 300}
SIDE = 320                      # composites are SIDE x SIDE .. 1.25 SIDE (random aspect)


@lru_cache(maxsize=256)
def _cutout(path: str) -> np.ndarray:
    """RGBA float32 in [0, 1], trimmed to the alpha's bounding box."""
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGBA"), np.float32) / 255.0
    ys, xs = np.nonzero(a[..., 3] > 0.02)
    if len(ys) == 0:
        return a
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _background(rng, photo: np.ndarray, h: int, w: int) -> np.ndarray:
    ph, pw = photo.shape[:2]
    s = rng.uniform(0.45, 1.0)
    ch = max(16, int(min(ph, pw * h / w) * s))
    cw = max(16, int(ch * w / h))
    ch, cw = min(ch, ph), min(cw, pw)
    y, x = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
    im = Image.fromarray(photo[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 0.3:                      # defocused background
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 4.0)))
    return np.asarray(im, np.float32) / 255.0


def _place(rng, obj: np.ndarray, h: int, w: int, frac: float) -> Tuple[np.ndarray, int, int]:
    """Scale ``obj`` so its long side is ``frac`` of the frame's short side; rotate; pick a spot."""
    oh, ow = obj.shape[:2]
    k = frac * min(h, w) / max(oh, ow)
    nh, nw = max(4, int(oh * k)), max(4, int(ow * k))
    im = Image.fromarray((np.clip(obj, 0, 1) * 255 + 0.5).astype(np.uint8), "RGBA").resize((nw, nh), Image.LANCZOS)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 0.4:
        im = im.rotate(float(rng.uniform(-15, 15)), resample=Image.BICUBIC, expand=True)
    o = np.asarray(im, np.float32) / 255.0
    oh, ow = o.shape[:2]
    if rng.random() < 0.15:                      # allowed to run off the frame
        y = int(rng.integers(-oh // 3, max(1, h - oh + oh // 3)))
        x = int(rng.integers(-ow // 3, max(1, w - ow + ow // 3)))
    else:
        y = int(rng.integers(0, max(1, h - oh + 1)))
        x = int(rng.integers(0, max(1, w - ow + 1)))
    return o, y, x


def _paste_window(h: int, w: int, o: np.ndarray, y: int, x: int):
    oh, ow = o.shape[:2]
    y0, x0, y1, x1 = max(0, y), max(0, x), min(h, y + oh), min(w, x + ow)
    if y1 <= y0 or x1 <= x0:
        return None
    return (slice(y0, y1), slice(x0, x1)), o[y0 - y:y1 - y, x0 - x:x1 - x]


def _harmonise(rng, rgb: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    wsum = alpha.sum() + 1e-6
    obj_mean = (rgb * alpha[..., None]).sum((0, 1)) / wsum
    bg_mean = bg.reshape(-1, 3).mean(0)
    t = rng.uniform(0.0, 0.45)                   # how far the object's colour moves to the scene's
    gain = (1 - t) + t * (bg_mean + 0.05) / (obj_mean + 0.05)
    rgb = rgb * gain * rng.uniform(0.85, 1.15) * rng.uniform(0.94, 1.06, 3)
    c = rng.uniform(0.85, 1.15)
    m = (rgb * alpha[..., None]).sum((0, 1)) / wsum
    return np.clip((rgb - m) * c + m, 0, 1)


def compose(rng, bg: np.ndarray, cutouts: List[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Composite ``cutouts`` (RGBA float) over ``bg`` (float RGB) -> (image float, mask float)."""
    h, w = bg.shape[:2]
    img, mask = bg.copy(), np.zeros((h, w), np.float32)
    for k, cut in enumerate(cutouts):
        frac = rng.uniform(0.45, 0.9) if k == 0 else rng.uniform(0.2, 0.55)
        o, y, x = _place(rng, cut, h, w, frac)
        win = _paste_window(h, w, o, y, x)
        if win is None:
            continue
        (sy, sx), o = win
        a = o[..., 3]
        if rng.random() < 0.5:                   # contact / drop shadow on what is behind
            dy, dx = int(rng.integers(1, 12)), int(rng.integers(-10, 11))
            full = np.zeros((h, w), np.float32)
            full[sy, sx] = a
            full = np.roll(np.roll(full, dy, 0), dx, 1)
            sh = np.asarray(Image.fromarray((full * 255).astype(np.uint8)).filter(
                ImageFilter.GaussianBlur(rng.uniform(2, 8))), np.float32) / 255.0
            img = img * (1 - rng.uniform(0.25, 0.55) * sh[..., None])
        rgb = _harmonise(rng, o[..., :3], a, img[sy, sx])
        if rng.random() < 0.5:                   # match the photo's softness
            rgb = np.asarray(Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).filter(
                ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0))), np.float32) / 255.0
        img[sy, sx] = img[sy, sx] * (1 - a[..., None]) + rgb * a[..., None]
        mask[sy, sx] = mask[sy, sx] + a * (1 - mask[sy, sx])
    return img, mask


def make_sample(seed: int, split: str, index: int) -> Tuple[np.ndarray, np.ndarray]:
    """One (image uint8 HxWx3, mask uint8 HxW) composite of the split's own photos and cut-outs."""
    rng = sample_rng(seed, split, index)
    photos, cutouts = split_files("photo", split), split_files("cutout", split)
    h = SIDE
    w = int(SIDE * rng.choice([0.8, 1.0, 1.0, 1.25]))
    bg = _background(rng, load_photo(str(photos[int(rng.integers(len(photos)))].path)), h, w)
    n = int(rng.choice([1, 1, 1, 2, 2, 3]))
    cuts = [_cutout(str(cutouts[int(rng.integers(len(cutouts)))].path)) for _ in range(n)]
    img, mask = compose(rng, bg, cuts)
    img = img + rng.normal(0, rng.uniform(0.0, 0.015), img.shape)      # one grain for the frame
    img_u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    mask_u8 = (np.clip(mask, 0, 1) * 255 + 0.5).astype(np.uint8)
    return img_u8, mask_u8


def available() -> bool:
    """True when the fetch cache holds photos and cut-outs for every split this dataset needs."""
    return bool(real_sources("photo", "train")) and bool(real_sources("cutout", "train"))


def pseudo_label_photos(root: Path, teacher: Callable[[np.ndarray], np.ndarray],
                        max_images: int = 400, progress=None) -> int:
    """Label the training photos with ``teacher`` (uint8 RGB -> mask in [0, 1] at that size) and
    keep the confident, object-like answers as ``root/train/{images,masks}/pl_*``.

    Kept when the foreground covers 5-70% of the photo and at most 12% of the pixels are unsure
    (between 0.15 and 0.85): a photo of a landscape has no single salient object, and a teacher's
    guess there would teach the student to cut out mountains.
    """
    from ..runtime.imageio import save_atomic
    photos = real_sources("photo", "train")[:max_images]
    img_dir, mask_dir = Path(root) / "train" / "images", Path(root) / "train" / "masks"
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    kept = 0
    for i, f in enumerate(photos):
        stem = f"pl_{f.group}"
        ip, mp = img_dir / f"{stem}.jpg", mask_dir / f"{stem}.png"
        if ip.exists() and mp.exists():
            kept += 1
        else:
            rgb = load_photo(str(f.path))
            k = 480 / max(rgb.shape[:2])
            if k < 1:
                rgb = np.asarray(Image.fromarray(rgb).resize(
                    (max(1, round(rgb.shape[1] * k)), max(1, round(rgb.shape[0] * k))), Image.BILINEAR))
            m = teacher(rgb)
            fg, unsure = float((m > 0.5).mean()), float(((m > 0.15) & (m < 0.85)).mean())
            if 0.05 <= fg <= 0.7 and unsure <= 0.12:
                save_atomic(Image.fromarray(rgb), ip, quality=95)
                save_atomic(Image.fromarray((np.clip(m, 0, 1) * 255 + 0.5).astype(np.uint8)), mp)
                kept += 1
        if progress:
            progress("pseudo-labels", i + 1, len(photos))
    return kept


def generate(root: Path, seed: int = 0, sizes: Optional[Dict[str, int]] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             workers: Optional[int] = None) -> Dict[str, int]:
    """Write ``root/<split>/images/*.jpg`` + ``root/<split>/masks/*.png`` and ``root/sources.json``."""
    from .generate import write_pairs
    from .real_sources import write_manifest
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    for kind in ("photo", "cutout"):             # hash the sources once, before the workers fork
        real_sources(kind)
    write_manifest(root, {s: real_sources("photo", s) + real_sources("cutout", s) for s in sizes})
    return write_pairs(root, make_sample, sizes, ("images", "masks"), seed=seed, progress=progress,
                       workers=workers)
