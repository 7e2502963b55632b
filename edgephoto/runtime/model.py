"""A loaded model: manifest-driven pre-processing, inference mode, and output kinds.

Nothing here knows about a particular task. The manifest says:

- ``input``: size, layout, range, scale (/255 or /max), mean/std, channel order -> :func:`normalize`
  / :func:`preprocess`;
- ``inference.mode``: how a photo of any size becomes model inputs (``MODES``):
  ``resize`` (the whole photo squeezed to the input size, one run; outputs at model resolution) or
  ``tile`` (full resolution, overlapping input-sized tiles blended; ``pad`` is the same function,
  named for models whose input is at least as large as the photo) — see :func:`mode_tile`;
- ``output.kind``: what the output means and what the user gets (``OUTPUT_KINDS``): ``alpha``
  (a mask upsampled to full resolution plus an RGBA cut-out), ``image`` (an RGB photo in [0, 1]
  at full resolution, e.g. the retouch task) or ``ab`` (colour for the photo's own lightness, the
  colorize task); ``output.index`` says which engine output it reads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

import numpy as np
from PIL import Image

from ..errors import UserError
from ..registry import Registry
from . import imageio
from .adjust import adjust as _adjust
from .engines import Engine
from .lab import lab_to_rgb, rgb_to_l
from .manifest import ManifestError

if TYPE_CHECKING:
    from .spec import InputSpec, ModelSpec

MODES = Registry("inference mode")
INPUT_KINDS = Registry("input kind")
OUTPUT_KINDS = Registry("output kind")

_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
             "lanczos": Image.LANCZOS, "box": Image.BOX}


def normalize(rgb: np.ndarray, inp: "InputSpec") -> np.ndarray:
    """uint8 HxWx3 -> float32 HxWx3 model values at the same size: ``(x/255 - mean) / std``.

    The one preprocessing of the package: the runtime, the training datasets, int8 calibration,
    parity and evaluation all call it (through :func:`whole_input` where a photo is one input).
    ``inp.range`` [lo, hi] maps 0..255 to lo..hi first; ``inp.channels`` "BGR" swaps channels.
    ``inp.scale`` "max" divides by the largest value of the whole (resized) image instead of 255
    (how rembg feeds U2-Net: ``x / max(x)``; an all-black image stays 0). ``inp.channels`` "L" gives
    one channel, the CIE L* of the photo (``runtime/lab.py``) over 100, for colorization models.
    """
    lo, hi = inp.range
    if inp.channels == "L":   # CIE lightness (runtime/lab.py), L / 100 mapped to [lo, hi]: HxWx1
        x = rgb_to_l(rgb)[..., None] * np.float32((hi - lo) / 100.0) + np.float32(lo)
        x = (x - np.asarray(inp.mean, np.float32)) / np.asarray(inp.std, np.float32)
        return np.ascontiguousarray(x, np.float32)
    div = 255.0 if inp.scale == "255" else max(float(rgb.max()) if rgb.size else 0.0, 1e-6)
    x = rgb.astype(np.float32) * np.float32((hi - lo) / div) + np.float32(lo)
    x = (x - np.asarray(inp.mean, np.float32)) / np.asarray(inp.std, np.float32)
    if inp.channels == "BGR":
        x = x[..., ::-1]
    return np.ascontiguousarray(x, np.float32)


def resize_rgb(rgb: np.ndarray, hw: tuple, resample: str = "bilinear") -> np.ndarray:
    """uint8 HxWx3 at (h, w) with Pillow's filter (what ``resize`` mode does before normalizing)."""
    h, w = hw
    if rgb.shape[0] == h and rgb.shape[1] == w:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((w, h), _RESAMPLE.get(resample, Image.BILINEAR)))


def whole_input(rgb: np.ndarray, inp: "InputSpec") -> np.ndarray:
    """A whole photo (uint8 HxWx3, already at the model's size) as one model input, HxWxC: the
    normalized pixels plus the context channels the spec declares (the photo is its own window)."""
    return whole_with_context(normalize(rgb, inp), inp.context)


def preprocess(rgb: np.ndarray, spec: "ModelSpec", size: Optional[tuple] = None) -> np.ndarray:
    """uint8 HxWx3 -> float32 1xHxWx3 at the model's size (resized with ``inference.resample``)."""
    rgb = resize_rgb(rgb, size or spec.input.hw, spec.inference.resample)
    return np.ascontiguousarray(normalize(rgb, spec.input)[None])


class ImageInput:
    """Input kind ``image``, a photo: ``input.channels`` RGB/BGR, normalized by :func:`normalize`
    (``preprocess`` for the resized whole photo). The inference modes reach the pixels through
    the model's input kind (``Model.input_kind``)."""

    normalize = staticmethod(normalize)
    preprocess = staticmethod(preprocess)


INPUT_KINDS.register("image", ImageInput)


class LatentInput:
    """Input kind ``latent``: a generator's ``N x input.latent_dim`` noise, made from a seed by
    :func:`edgephoto.runtime.latent.latents` (the same numbers in the browser). There is no photo
    to normalize; ``Model.generate`` feeds it."""

    @staticmethod
    def batch(spec: "ModelSpec", seed: int, n: int, start: int = 0) -> np.ndarray:
        from .latent import latents
        if not spec.input.latent_dim:
            raise ManifestError("manifest input kind 'latent' needs input.latent_dim")
        return latents(seed, n, int(spec.input.latent_dim), start)

    @staticmethod
    def normalize(rgb: np.ndarray, inp: "InputSpec") -> np.ndarray:
        raise UserError("this model generates images from a seed: it takes no photo (use generate)")

    preprocess = normalize


INPUT_KINDS.register("latent", LatentInput)


# ------------------------------------------------------------------------------ global context
def thumbnail(x: np.ndarray, grid: int) -> np.ndarray:
    """HxWxC float -> grid x grid x C block means; block i spans rows floor(i*H/grid) .. floor((i+1)*H/grid).

    Integer block bounds (not a filtered resize) so the JS runtime computes the very same numbers.
    """
    H, W = x.shape[:2]
    ys = np.array([(i * H) // grid for i in range(grid + 1)])
    xs = np.array([(j * W) // grid for j in range(grid + 1)])
    # reduceat sums [ys[i], ys[i+1]); an empty block (a side shorter than the grid) gets the one
    # row at ys[i], as the JS twin does
    rows = np.add.reduceat(x.astype(np.float64), ys[:-1], axis=0)
    sums = np.add.reduceat(rows, xs[:-1], axis=1)
    area = np.maximum(np.diff(ys), 1)[:, None] * np.maximum(np.diff(xs), 1)[None, :]
    return (sums / area[..., None]).astype(np.float32)


def context_channels(ctx: Optional[Dict[str, Any]]) -> int:
    """How many channels ``input.context`` adds after RGB: 3 for the thumbnail, 2 for the position."""
    ctx = ctx or {}
    return (3 if ctx.get("grid") else 0) + (2 if ctx.get("position") else 0)


def photo_thumbnail(x_full: np.ndarray, ctx: Optional[Dict[str, Any]]) -> Optional[np.ndarray]:
    """The photo's ``grid x grid`` :func:`thumbnail` (normalized pixels in), once per photo; None
    when the context has no grid."""
    return thumbnail(x_full, int(ctx["grid"])) if ctx and ctx.get("grid") else None


def context_planes(thumb: Optional[np.ndarray], ctx: Dict[str, Any], hw: tuple, top: int, left: int,
                   full_hw: tuple, cache: Optional[Dict[Any, np.ndarray]] = None) -> np.ndarray:
    """The extra input channels (h x w x k) of an ``hw`` window at (top, left) of a ``full_hw`` photo
    whose :func:`photo_thumbnail` is ``thumb``."""
    h, w = hw
    H, W = full_hw
    planes = []
    if ctx.get("grid"):
        g = int(ctx["grid"])
        plane = cache.get(("grid", h, w)) if cache is not None else None
        if plane is None:   # the same for every tile of a photo: ``cache`` keeps it per window size
            plane = thumb[(np.arange(h) * g) // h][:, (np.arange(w) * g) // w]
            if cache is not None:
                cache[("grid", h, w)] = plane
        planes.append(plane)
    if ctx.get("position"):
        yy = (2.0 * (np.arange(top, top + h, dtype=np.float32) + 0.5) / H - 1.0).astype(np.float32)
        xx = (2.0 * (np.arange(left, left + w, dtype=np.float32) + 0.5) / W - 1.0).astype(np.float32)
        planes.append(np.stack(np.broadcast_arrays(yy[:, None], xx[None, :]), -1))
    return np.concatenate(planes, -1).astype(np.float32)


def with_context(x_window: np.ndarray, thumb: Optional[np.ndarray], ctx: Optional[Dict[str, Any]],
                 top: int = 0, left: int = 0, full_hw: Optional[tuple] = None,
                 cache: Optional[Dict[Any, np.ndarray]] = None) -> np.ndarray:
    """``x_window`` (hxwx3, normalized) with the context channels appended (unchanged without context).

    ``full_hw`` (default: the window's own size) is the size of the photo the positions refer to."""
    if not ctx:
        return x_window
    extra = context_planes(thumb, ctx, x_window.shape[:2], top, left, full_hw or x_window.shape[:2], cache)
    return np.ascontiguousarray(np.concatenate([x_window, extra], -1), np.float32)


def whole_with_context(x: np.ndarray, ctx: Optional[Dict[str, Any]]) -> np.ndarray:
    """A whole photo's normalized pixels as one model input: the photo is its own window."""
    return with_context(x, photo_thumbnail(x, ctx), ctx)


def resize_map(a: np.ndarray, hw: tuple) -> np.ndarray:
    """Bilinear resize of a float map, HxW or HxWxC (channel by channel), to ``hw`` = (h, w).

    How model outputs reach the photo's resolution (masks, images); the exporter's parity check
    uses it too, so both score predictions the same way.
    """
    h, w = hw
    if a.shape[:2] == (h, w):
        return a
    if a.ndim == 3:
        return np.stack([resize_map(a[..., c], hw) for c in range(a.shape[2])], axis=2)
    im = Image.fromarray(np.ascontiguousarray(a, np.float32), mode="F").resize((w, h), Image.BILINEAR)
    return np.asarray(im, np.float32)


# ------------------------------------------------------------------------------ inference modes
@MODES.register("resize")
def mode_resize(model: "Model", photo: imageio.Photo) -> List[np.ndarray]:
    """Resize the whole photo to the model's input, run once; outputs stay at model resolution."""
    x = model.input_kind.preprocess(photo.rgb, model.spec)
    ctx = model.spec.input.context
    if ctx:   # the thumbnail of the photo itself, not of its resized copy
        x = with_context(x[0], photo_thumbnail(model.input_kind.normalize(photo.rgb, model.spec.input), ctx),
                         ctx)[None]
    return model.engine.run(x)


DEFAULT_OVERLAP = 32
# the largest output a model may produce, per side (WebGL's texture limit; 4 x 1024 for a 4x upscaler)
MAX_OUTPUT_SIDE = 4096


def tile_params(spec: "ModelSpec") -> tuple:
    """``((tile_h, tile_w), (overlap_h, overlap_w))`` from ``inference.tile`` / ``inference.overlap``.

    The tile is the model's ``input.size`` (``inference.tile``, if given, must equal it: one tile is
    one model input). ``overlap`` defaults to 32 (at most half the tile), and must be in [0, tile).
    """
    inf = spec.inference
    if spec.input.hw is None:
        raise ManifestError("inference mode 'tile' needs a fixed input.size")
    th, tw = spec.input.hw
    if inf.tile is not None and tuple(inf.tile) != (th, tw):
        raise ManifestError(f"manifest inference.tile {list(inf.tile)} differs from input.size [{th}, {tw}] "
                            f"(one tile is one model input)")
    oh, ow = inf.overlap if inf.overlap is not None else (min(DEFAULT_OVERLAP, th // 2), min(DEFAULT_OVERLAP, tw // 2))
    for o, t in ((oh, th), (ow, tw)):
        if not 0 <= o < t:
            raise ManifestError(f"manifest inference.overlap {o} must be in [0, {t}) for a tile of {t}")
    return (th, tw), (oh, ow)


def tile_starts(n: int, tile: int, overlap: int) -> List[int]:
    """Tile offsets covering ``n`` pixels: every ``tile - overlap``, the last aligned to the far edge."""
    if n <= tile:
        return [0]
    return list(range(0, n - tile, tile - overlap)) + [n - tile]


def tile_weights(starts: List[int], tile: int) -> List[np.ndarray]:
    """1-D blending weights per tile: a linear ramp over the overlap with each neighbouring tile.

    Where tiles ``a`` and ``b`` overlap by ``L`` pixels, ``a`` falls as ``(L - i - 0.5) / L`` and ``b``
    rises as ``(i + 0.5) / L``: they sum to 1 (a cross-fade), are never 0, and an edge without a
    neighbour (an image border) keeps weight 1. Where ramps meet (overlaps wider than half a tile,
    e.g. the edge-aligned last tile), the smaller wins; the caller divides by the weight sum anyway.
    """
    out = []
    for i, s in enumerate(starts):
        w = np.ones(tile, np.float32)
        if i > 0:
            n = starts[i - 1] + tile - s                 # overlap with the previous tile
            if n > 0:
                w[:n] = np.minimum(w[:n], (np.arange(n, dtype=np.float32) + 0.5) / n)
        if i + 1 < len(starts):
            n = s + tile - starts[i + 1]                 # overlap with the next tile
            if n > 0:
                w[tile - n:] = np.minimum(w[tile - n:], (np.arange(n, 0, -1, dtype=np.float32) - 0.5) / n)
        out.append(w)
    return out


def _pad_axis(x: np.ndarray, axis: int, size: int) -> tuple:
    """Pad ``x`` along ``axis`` up to ``size`` (centred; reflect, or edge if too short to reflect)."""
    n = x.shape[axis]
    if n >= size:
        return x, 0
    before = (size - n) // 2
    after = size - n - before
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return np.pad(x, widths, mode="reflect" if max(before, after) <= n - 1 else "edge"), before


@MODES.register("tile")
def mode_tile(model: "Model", photo: imageio.Photo) -> List[np.ndarray]:
    """Run a fixed-size model on the photo at full resolution, in overlapping tiles.

    Why: image-to-image models (e.g. retouch) are exported with a static input shape (TFLite and
    TF.js want one; int8 calibration and the device's memory plan are made for it), but the user
    wants every pixel of the photo back, not a resize of the model's resolution. Tiling keeps the
    photo's resolution while memory stays bounded by one tile per engine call (plus the
    full-resolution accumulators), whatever the photo's size.

    How: the photo is normalized at full resolution (:func:`normalize`, no resize). A side shorter
    than the tile is padded up to it (reflect; edge if too short), and cropped back afterwards — so a
    photo no larger than the model input is one padded run (mode ``pad`` is this same function).
    Tiles of the input size step by ``tile - overlap`` with the last one aligned to the far edge;
    each output is weighted by separable linear ramps over the overlaps (:func:`tile_weights`:
    borders of the image keep full weight, weights are strictly positive) and the sum is divided
    by the summed weights, so seams from each tile's zero-padded edges are cross-faded away.

    Returns one float32 array per model output at ``output.scale`` times the photo's resolution
    (1 for most tasks, 4 for a 4x upscaler: tiles, offsets and overlaps are scaled on the output
    grid, so the blend is seamless there too); every output must be ``output.scale`` times the
    input's spatial size.
    """
    (th, tw), (oh, ow) = tile_params(model.spec)
    s = model.spec.output.scale          # output pixels per input pixel (4 for a 4x upscaler)
    x = model.input_kind.normalize(photo.rgb, model.spec.input)
    H, W = x.shape[:2]
    ctx = model.spec.input.context
    thumb = photo_thumbnail(x, ctx)
    planes: Dict[Any, np.ndarray] = {}
    x, top = _pad_axis(x, 0, th)
    x, left = _pad_axis(x, 1, tw)
    PH, PW = x.shape[:2]
    ys, xs = tile_starts(PH, th, oh), tile_starts(PW, tw, ow)
    # blending happens on the output grid: tiles, their starts and overlaps all scaled by s
    wys, wxs = tile_weights([y * s for y in ys], th * s), tile_weights([v * s for v in xs], tw * s)
    acc: List[np.ndarray] = []
    wsum = np.zeros((PH * s, PW * s), np.float32)
    for y0, wy in zip(ys, wys):
        for x0, wx in zip(xs, wxs):
            win = x[y0:y0 + th, x0:x0 + tw]
            if ctx:   # positions are in the photo's own frame (padding lies outside [-1, 1])
                win = with_context(win, thumb, ctx, y0 - top, x0 - left, (H, W), planes)
            outs = model.engine.run(np.ascontiguousarray(win[None]))
            w = np.outer(wy, wx)
            Y, X = y0 * s, x0 * s
            for k, o in enumerate(outs):
                if o.ndim != 4 or o.shape[0] != 1 or o.shape[1:3] != (th * s, tw * s):
                    raise ManifestError(f"inference mode 'tile' needs outputs of output.scale ({s}) times the "
                                        f"input's size, {th * s}x{tw * s}; output {k} has shape {tuple(o.shape)}")
                if len(acc) <= k:
                    acc.append(np.zeros((PH * s, PW * s, o.shape[3]), np.float32))
                acc[k][Y:Y + th * s, X:X + tw * s] += o[0] * w[..., None]
            wsum[Y:Y + th * s, X:X + tw * s] += w
    T, L = top * s, left * s
    wsum = wsum[T:T + H * s, L:L + W * s, None]
    return [np.ascontiguousarray(a[T:T + H * s, L:L + W * s] / wsum) for a in acc]


mode_tile.check = tile_params  # type: ignore[attr-defined]  # spec errors at load, not at predict
MODES.register("pad", mode_tile)


@MODES.register("sample")
def mode_sample(model: "Model", photo: imageio.Photo) -> List[np.ndarray]:
    """Generators: no photo goes in (``Model.generate`` feeds seeded latents instead)."""
    raise UserError(f"the {model.task} model generates images from a seed and takes no photo: use "
                    f"`edgephoto run {model.task} --n N --seed S -o DIR/` (Python: model.generate(n, seed))")


def _check_sample(spec: "ModelSpec") -> None:
    if spec.input.kind != "latent":
        raise ManifestError(f"inference mode 'sample' needs input kind 'latent', the manifest says '{spec.input.kind}'")


mode_sample.check = _check_sample  # type: ignore[attr-defined]


def model_window(rgb: np.ndarray, spec: "ModelSpec") -> tuple:
    """One model input as the spec's inference mode makes it from a photo, and where the photo is
    in it: ``(window HxWxC float32, region)``.

    Int8 calibration and parity feed the model what the runtime will feed it: a ``tile`` / ``pad``
    model sees native-resolution pixels (normalized at full size, padded like :func:`mode_tile`),
    here the photo's centre tile, never the photo resized to the tile (a 64 px input of a 4x
    upscaler stretched to 256 px is a blur the model never sees at run time, and calibrating on it
    set activation ranges too narrow: 0.4 dB PSNR-Y lost). ``region`` is ``(wy, wx, py, px, h, w)``:
    ``window[wy:wy+h, wx:wx+w]`` holds ``photo[py:py+h, px:px+w]``. Other modes resize the whole
    photo (``inference.resample``) to the input size and return ``region`` None.
    """
    inp = spec.input
    if spec.inference.mode not in ("tile", "pad"):
        return whole_input(resize_rgb(rgb, inp.hw, spec.inference.resample), inp), None
    (th, tw), _ = tile_params(spec)
    x = normalize(rgb, inp)
    H, W = x.shape[:2]
    thumb = photo_thumbnail(x, inp.context)
    x, top = _pad_axis(x, 0, th)
    x, left = _pad_axis(x, 1, tw)
    y0, x0 = (x.shape[0] - th) // 2, (x.shape[1] - tw) // 2
    win = with_context(x[y0:y0 + th, x0:x0 + tw], thumb, inp.context, y0 - top, x0 - left, (H, W))
    py, px = max(y0 - top, 0), max(x0 - left, 0)
    wy, wx = py + top - y0, px + left - x0
    return np.ascontiguousarray(win, np.float32), (wy, wx, py, px, min(H, th - wy), min(W, tw - wx))


# --------------------------------------------------------------------------------- output kinds
def selected_output(model: "Model", raw: List[np.ndarray]) -> np.ndarray:
    """The engine output named by ``output.index``; one line if the model has fewer outputs."""
    k = model.spec.output.index
    if k >= len(raw):
        raise ManifestError(f"manifest output.index is {k} but the model has {len(raw)} output(s)")
    return raw[k]


class Result:
    """What a prediction gives back: named arrays plus how to save them."""

    def __init__(self, photo: imageio.Photo, outputs: Dict[str, np.ndarray], kind: str,
                 timings: Dict[str, float]) -> None:
        self.photo, self.outputs, self.kind, self.timings = photo, outputs, kind, timings

    def __getattr__(self, name: str) -> Any:
        outs = self.__dict__.get("outputs", {})
        if name in outs:
            return outs[name]
        raise AttributeError(name)

    def image(self) -> Image.Image:
        """The main user-facing image (``alpha``: the RGBA cut-out; ``image``: the RGB photo)."""
        return OUTPUT_KINDS.get(self.kind).image(self)

    def adjust(self, adjustments: Any) -> List[Dict[str, Any]]:
        """Brightness / contrast / colour balance (:func:`edgephoto.runtime.adjust.adjust`) on what
        :meth:`image` shows; the model's own outputs are kept. Returns what was done."""
        fn = getattr(OUTPUT_KINDS.get(self.kind), "adjust", None)
        if fn is None:
            raise UserError(f"brightness/contrast/colour adjustments are not available for "
                            f"'{self.kind}' outputs")
        return fn(self, adjustments)

    def save(self, path: Union[str, Path], **kw: Any) -> None:
        imageio.save_atomic(self.image(), path, **kw)

    def output_image(self, name: str) -> Image.Image:
        """One named output as an image: a [0,1] HxW map -> 8-bit grayscale, HxWx3/4 uint8 as is."""
        a = self.outputs[name]
        if a.dtype != np.uint8:
            a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return Image.fromarray(a)

    def save_output(self, name: str, path: Union[str, Path], **kw: Any) -> None:
        imageio.save_atomic(self.output_image(name), path, **kw)


class AlphaOutput:
    """A foreground probability map -> full-resolution mask (float32 HxW) + RGBA cut-out."""

    primary = "mask"   # the output metrics are computed on

    @staticmethod
    def postprocess(model: "Model", photo: imageio.Photo, raw: List[np.ndarray]) -> Dict[str, np.ndarray]:
        y = selected_output(model, raw)
        y = y[0] if y.ndim == 4 else y            # HxWxC
        m = y[..., 0] if y.ndim == 3 else y
        lo, hi = model.spec.output.range
        m = (m.astype(np.float32) - lo) / max(hi - lo, 1e-12)
        H, W = photo.rgb.shape[:2]
        mask = np.clip(resize_map(m, (H, W)), 0.0, 1.0)
        return {"mask": mask}

    @staticmethod
    def composite(result: Result, rgb: Optional[np.ndarray] = None) -> np.ndarray:
        """HxWx4 uint8: ``rgb`` (default: the photo's) with the mask (times the input's alpha)."""
        photo = result.photo
        a = result.outputs["mask"] * 255.0
        if photo.alpha is not None:  # keep what was already transparent in the input
            a = a * (photo.alpha.astype(np.float32) / 255.0)
        rgba = np.empty(photo.rgb.shape[:2] + (4,), np.uint8)
        rgba[..., :3] = photo.rgb if rgb is None else rgb
        rgba[..., 3] = (a + 0.5).astype(np.uint8)
        return rgba

    @classmethod
    def image(cls, result: Result) -> Image.Image:
        if "rgba" not in result.outputs:
            result.outputs["rgba"] = cls.composite(result)
        return Image.fromarray(result.outputs["rgba"], "RGBA")

    @classmethod
    def adjust(cls, result: Result, adjustments: Any) -> List[Dict[str, Any]]:
        """Adjust the photo's RGB (statistics of the whole photo), then cut it out with the mask."""
        rgb, done = _adjust(result.photo.rgb, adjustments)
        result.outputs["rgba"] = cls.composite(result, rgb)
        return done


OUTPUT_KINDS.register("alpha", AlphaOutput)


class ImageOutput:
    """An RGB image ``output.scale`` times the photo's size (retouch: 1, upscale: 4) -> float32
    HxWx3 in [0, 1] + a photo.

    ``output.range`` [lo, hi] is mapped to [0, 1]; a single-channel output is repeated to RGB and
    extra channels are dropped. Outputs at another size (e.g. an ``image`` model run in mode
    ``resize``) are resized bilinearly to the photo's. ``outputs["image"]`` is the model's result;
    ``outputs["rgb"]`` (uint8 HxWx3, made by :meth:`image`) is what the user gets, after any
    :meth:`Result.adjust`. The picture is RGBA when the input had alpha (the input's alpha, kept).
    """

    primary = "image"

    @staticmethod
    def postprocess(model: "Model", photo: imageio.Photo, raw: List[np.ndarray]) -> Dict[str, np.ndarray]:
        y = selected_output(model, raw)
        y = y[0] if y.ndim == 4 else y
        y = y[..., None] if y.ndim == 2 else y                  # HxWxC
        if y.shape[-1] == 1:
            y = np.repeat(y, 3, axis=-1)
        elif y.shape[-1] >= 3:
            y = y[..., :3]
        else:
            raise ManifestError(f"output kind 'image' needs 1 or 3+ channels, the model gives {y.shape[-1]}")
        lo, hi = model.spec.output.range
        y = (y.astype(np.float32) - np.float32(lo)) / np.float32(max(hi - lo, 1e-12))
        s = model.spec.output.scale
        H, W = photo.rgb.shape[:2]
        return {"image": np.clip(resize_map(y, (H * s, W * s)), 0.0, 1.0).astype(np.float32)}

    @classmethod
    def image(cls, result: Result) -> Image.Image:
        if "rgb" not in result.outputs:
            result.outputs["rgb"] = (result.outputs["image"] * 255.0 + 0.5).astype(np.uint8)
        im = Image.fromarray(result.outputs["rgb"])
        if result.photo.alpha is not None:   # the input's alpha, at the output's size (upscalers)
            alpha = Image.fromarray(result.photo.alpha)
            im.putalpha(alpha if alpha.size == im.size else alpha.resize(im.size, Image.BILINEAR))
        return im

    @classmethod
    def adjust(cls, result: Result, adjustments: Any) -> List[Dict[str, Any]]:
        """Adjust the model's output photo (the statistics for 'auto' are the output's)."""
        if "rgb" not in result.outputs:
            cls.image(result)
        result.outputs["rgb"], done = _adjust(result.outputs["rgb"], adjustments)
        return done


OUTPUT_KINDS.register("image", ImageOutput)


def join_lightness(rgb: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """A photo's own full-resolution L* with ``ab`` (HxWx2, Lab units, any size; upsampled
    bilinearly) -> RGB float32 in [0, 1] at the photo's size: what a colorization model gives."""
    ab = resize_map(np.asarray(ab, np.float32), rgb.shape[:2])
    return lab_to_rgb(np.concatenate([rgb_to_l(rgb)[..., None], ab], -1))


class AbOutput(ImageOutput):
    """Colour for a photo's own lightness: the model's two channels are CIE a*, b* (``output.range``
    [lo, hi] stands for ``output.units``, e.g. tanh's [-1, 1] for [-110, 110]) at the model's
    resolution; they are upsampled bilinearly to the photo's size and joined to the photo's L* at
    full resolution (``runtime/lab.py``), so edges stay as sharp as the input's.

    ``outputs["ab"]`` (float32 HxWx2, Lab units) is the prediction; ``outputs["image"]`` the colour
    photo (RGB in [0, 1]), which saving, adjustments and metrics use as for ``image`` outputs.
    """

    @staticmethod
    def postprocess(model: "Model", photo: imageio.Photo, raw: List[np.ndarray]) -> Dict[str, np.ndarray]:
        y = selected_output(model, raw)
        y = y[0] if y.ndim == 4 else y
        if y.ndim != 3 or y.shape[-1] != 2:
            raise ManifestError(f"output kind 'ab' needs 2 channels (a*, b*), the model gives shape {tuple(y.shape)}")
        out = model.spec.output
        lo, hi = out.range
        ulo, uhi = out.units if out.units is not None else out.range
        ab = (y.astype(np.float32) - np.float32(lo)) * np.float32((uhi - ulo) / max(hi - lo, 1e-12)) + np.float32(ulo)
        return {"ab": resize_map(ab, photo.rgb.shape[:2]).astype(np.float32),
                "image": join_lightness(photo.rgb, ab)}


OUTPUT_KINDS.register("ab", AbOutput)


# ----------------------------------------------------------------------------------- the model
class Model:
    """A model directory loaded with one engine. ``predict`` takes a path, PIL image or array."""

    def __init__(self, manifest: Dict[str, Any], engine: Engine, spec: Optional["ModelSpec"] = None) -> None:
        from .spec import ModelSpec
        self.manifest = manifest
        self.spec = spec or ModelSpec.from_manifest(manifest)   # the typed contract; errors at load
        self.engine = engine
        self.task = manifest["task"]
        self.dir = manifest.get("_dir", "")
        mode = self.spec.inference.mode
        kind = self.spec.output.kind
        self._mode: Callable = MODES.get(mode)
        self.input_kind = INPUT_KINDS.get(self.spec.input.kind)
        self._kind = OUTPUT_KINDS.get(kind)
        check = getattr(self._mode, "check", None)
        if check is not None:          # a bad manifest fails at load, not at the first photo
            check(self.spec)
        self.kind = kind
        self.primary_output = getattr(self._kind, "primary", None)

    def __repr__(self) -> str:
        m = self.manifest
        return (f"<edgephoto Model {m['task']}/{m.get('variant', '?')} {m['format']}_{m['precision']} "
                f"engine={self.engine.name} threads={self.engine.threads}>")

    @property
    def input_size(self) -> tuple:
        return self.spec.input.hw

    def read(self, image: Any, downscale: bool = False, max_side: Optional[int] = None,
             max_upload_mb: Optional[float] = None) -> imageio.Photo:
        s = self.spec.output.scale
        if s > 1:   # the output is s times larger: keep it within MAX_OUTPUT_SIDE
            max_side = min(max_side or imageio.MAX_SIDE, MAX_OUTPUT_SIDE // s)
        if isinstance(image, imageio.Photo):
            return image
        if isinstance(image, (str, Path)):
            return imageio.read_image(image, downscale=downscale, max_side=max_side, max_upload_mb=max_upload_mb)
        if isinstance(image, Image.Image):
            return imageio.from_pil(image, downscale=downscale, max_side=max_side)
        if isinstance(image, np.ndarray):
            return imageio.from_array(image, downscale=downscale, max_side=max_side)
        raise UserError(f"cannot predict on a {type(image).__name__} (give a path, PIL image or array)")

    def predict(self, image: Any, *, downscale: bool = False, max_side: Optional[int] = None,
                max_upload_mb: Optional[float] = None, composite: bool = True) -> Result:
        t0 = time.perf_counter()
        photo = self.read(image, downscale=downscale, max_side=max_side, max_upload_mb=max_upload_mb)
        t1 = time.perf_counter()
        raw = self._mode(self, photo)
        t2 = time.perf_counter()
        outputs = self._kind.postprocess(self, photo, raw)
        result = Result(photo, outputs, self.kind, {})
        if composite:
            result.image()
        t3 = time.perf_counter()
        result.timings = {"decode_s": t1 - t0, "infer_s": t2 - t1, "post_s": t3 - t2, "total_s": t3 - t0}
        return result

    def generate(self, n: int, seed: int = 0, start: int = 0) -> List[np.ndarray]:
        """A latent model's images for samples ``start .. start + n - 1`` of ``seed``: uint8 HxWx3
        each (``output.range`` mapped to 0..255). The same seed gives the same images, in any
        batch size and in the browser (:mod:`edgephoto.runtime.latent`)."""
        if self.spec.input.kind != "latent":
            raise UserError(f"the {self.task} model takes a photo, not a seed: use predict(photo)")
        z = self.input_kind.batch(self.spec, seed, n, start)
        raw = self.engine.run(z) if self.engine.batches else \
            [np.concatenate(o) for o in zip(*(self.engine.run(z[i:i + 1]) for i in range(n)))]
        y = selected_output(self, raw)
        lo, hi = self.spec.output.range
        y = np.clip((y.astype(np.float32) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        return [(img[..., :3] * 255.0 + 0.5).astype(np.uint8) for img in y]

    def run_raw(self, x: np.ndarray) -> List[np.ndarray]:
        """The engine on an already pre-processed NHWC float32 batch (for parity checks)."""
        return self.engine.run(x)
