"""Reading users' photos safely: any PIL-readable JPEG/PNG -> uint8 RGB (+ alpha), or one clear error.

Rules (defaults = ``budgets.toml``'s ``[defaults]``; callers may pass other limits):

- files over ``max_upload_mb`` (35 MB), files that are not JPEG or PNG (by content, not by name),
  and corrupt or truncated files raise :class:`ImageError` (a ``UserError``: one line, exit 2);
- images whose larger side exceeds ``max_side`` (1024) are refused unless ``downscale=True``, which
  shrinks them to fit (JPEGs are decoded at reduced scale, so a 20-megapixel photo is cheap);
- EXIF orientation is applied; CMYK, palette, 16-bit, grayscale and alpha images become RGB, and
  the alpha channel (if any) is kept so the cut-out can respect it.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UserError

# Mirror budgets.toml [defaults]; the runtime does not need the file to work.
MAX_UPLOAD_MB = 35.0
MAX_SIDE = 1024
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}  # MPO: multi-picture camera JPEG
# never decode more than this many pixels, even when downscaling (decompression bombs)
MAX_DECODE_PIXELS = 100_000_000


class ImageError(UserError, ValueError):
    """An input image the runtime refuses; ``str(e)`` is one line naming the file and the reason."""


@dataclass
class Photo:
    rgb: np.ndarray                       # HxWx3 uint8, orientation applied
    alpha: Optional[np.ndarray] = None    # HxW uint8 when the file had transparency
    source: str = ""
    format: str = ""
    original_size: tuple = (0, 0)         # (w, h) after orientation, before any downscale
    downscaled: bool = False
    info: Dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple:
        return (self.rgb.shape[1], self.rgb.shape[0])


def _limits_from_budgets(max_upload_mb, max_side):
    return (MAX_UPLOAD_MB if max_upload_mb is None else float(max_upload_mb),
            MAX_SIDE if max_side is None else int(max_side))


def read_image(path: Union[str, Path], *, downscale: bool = False, max_side: Optional[int] = None,
               max_upload_mb: Optional[float] = None) -> Photo:
    """Decode ``path`` under the rules above."""
    max_upload_mb, max_side = _limits_from_budgets(max_upload_mb, max_side)
    p = Path(path)
    name = p.name
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if not p.is_file():
        raise ImageError(f"{p}: not a file")
    mb = p.stat().st_size / 1e6
    if mb > max_upload_mb:
        raise ImageError(f"{name} is {mb:.1f} MB; the largest accepted upload is {max_upload_mb:g} MB")
    if mb == 0:
        raise ImageError(f"{name} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(p)
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not a readable image (only JPEG and PNG are accepted)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} has too many pixels to decode safely") from None
    except OSError as e:
        raise ImageError(f"{name} cannot be read: {' '.join(str(e).split())}") from None
    with im:
        return _decode(im, name, str(p), downscale, max_side)


def from_pil(im: Image.Image, *, downscale: bool = False, max_side: Optional[int] = None,
             name: str = "image") -> Photo:
    """The same conversions for an already opened PIL image (no file-format rule)."""
    _, max_side = _limits_from_budgets(None, max_side)
    return _decode(im, name, name, downscale, max_side, check_format=False)


def from_array(arr: np.ndarray, *, downscale: bool = False, max_side: Optional[int] = None) -> Photo:
    """HxW, HxWx3 or HxWx4 uint8 array (RGB order)."""
    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).round().astype(np.uint8)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageError(f"array of shape {arr.shape} is not an image (HxW, HxWx3 or HxWx4)")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    return from_pil(Image.fromarray(arr), downscale=downscale, max_side=max_side, name="array")


def _decode(im: Image.Image, name: str, source: str, downscale: bool, max_side: int,
            check_format: bool = True) -> Photo:
    fmt = (im.format or "").upper()
    if check_format and fmt not in ACCEPTED_FORMATS:
        raise ImageError(f"{name} is a {fmt or 'unknown'} image; only JPEG and PNG are accepted")
    # orientation swaps sides, but the limit is on the larger side, so it can be checked pre-decode
    w, h = im.size
    if w < 1 or h < 1:
        raise ImageError(f"{name} has no pixels ({w}x{h})")
    too_big = max(w, h) > max_side
    if too_big and not downscale:
        raise ImageError(f"{name} is {w}x{h}; the largest accepted image is {max_side}x{max_side} "
                         f"(ask for --downscale to shrink it to fit)")
    if w * h > MAX_DECODE_PIXELS:
        raise ImageError(f"{name} is {w}x{h} ({w * h / 1e6:.0f} megapixels); too large to decode safely")
    try:
        if too_big and fmt in ("JPEG", "MPO"):
            # let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below the target size
            scale = max_side / max(w, h)
            im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else "RGB",
                     (max(1, int(w * scale)), max(1, int(h * scale))))
        im.load()
        exif_orient = None
        try:
            exif_orient = im.getexif().get(0x0112)
        except Exception:  # broken EXIF must not fail an otherwise good photo
            pass
        if exif_orient and exif_orient != 1:
            im = ImageOps.exif_transpose(im)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        why = " ".join(str(e).split())
        raise ImageError(f"{name} is corrupt or truncated ({why})") from None
    rgb, alpha = _to_rgb(im)
    ow, oh = (w, h) if not exif_orient or exif_orient < 5 else (h, w)
    downscaled = False
    if max(rgb.shape[:2]) > max_side or (too_big and downscale):
        rgb, alpha = _fit(rgb, alpha, max_side)
        downscaled = True
    return Photo(rgb=rgb, alpha=alpha, source=source, format=ACCEPTED_FORMATS.get(fmt, fmt),
                 original_size=(ow, oh), downscaled=downscaled,
                 info={"mode": im.mode, "exif_orientation": exif_orient or 1})


def _to_rgb(im: Image.Image):
    """Any PIL mode -> (HxWx3 uint8, HxW uint8 alpha or None)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if (mode.startswith("I;16") or a.max() > 255) else 255.0
        if mode == "F" and a.max() <= 1.0:
            top = 1.0
        g = np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    # CMYK (incl. Adobe-inverted JPEGs, which Pillow handles), YCbCr, LAB, P, 1, L, RGB
    return np.asarray(im.convert("RGB"), dtype=np.uint8), None


def _fit(rgb: np.ndarray, alpha: Optional[np.ndarray], max_side: int):
    h, w = rgb.shape[:2]
    s = max_side / max(w, h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    out = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR, reducing_gap=2.0))
    a = None if alpha is None else np.asarray(Image.fromarray(alpha).resize(size, Image.BILINEAR))
    return out, a


# ------------------------------------------------------------------------------------- writing
def save_atomic(im: Image.Image, path: Union[str, Path], **kw: Any) -> None:
    """Save via a temporary file in the same folder + rename: never a half-written output."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise ImageError(f"output folder {path.parent} does not exist")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"cannot tell the output format from '{path.name}' (use .png, .jpg or .webp)")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        if fmt == "JPEG" and im.mode not in ("RGB", "L"):
            im = _flatten(im)
        im.save(tmp, format=fmt, **kw)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; outputs are meant to be shared
        os.replace(tmp, path)
    except Exception as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, UserError):
            raise
        raise ImageError(f"cannot write {path}: {' '.join(str(e).split())}") from None


def _flatten(im: Image.Image, background=(255, 255, 255)) -> Image.Image:
    """RGBA -> RGB over a plain background (for formats without alpha, e.g. JPEG)."""
    im = im.convert("RGBA")
    bg = Image.new("RGB", im.size, background)
    bg.paste(im, mask=im.getchannel("A"))
    return bg

