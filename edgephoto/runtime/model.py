"""A loaded model: manifest-driven pre-processing, inference mode, and output kinds.

Nothing here knows about a particular task. The manifest says:

- ``input``: size, layout, mean/std -> :func:`preprocess`;
- ``inference.mode``: how a photo of any size becomes model inputs (``MODES``; ``resize`` now —
  a ``tile`` mode would be one more registered function that returns a full-resolution map);
- ``output.kind``: what the output means and what the user gets (``OUTPUT_KINDS``; ``alpha``:
  a mask upsampled to full resolution plus an RGBA cut-out).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np
from PIL import Image

from ..errors import UserError
from ..registry import Registry
from . import imageio
from .engines import Engine
from .manifest import ManifestError

MODES = Registry("inference mode")
OUTPUT_KINDS = Registry("output kind")

_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
             "lanczos": Image.LANCZOS, "box": Image.BOX}


def _input_hw(manifest: Dict[str, Any]) -> tuple:
    size = manifest["input"].get("size")
    if isinstance(size, int):
        return size, size
    if not size or len(size) != 2:
        raise ManifestError(f"manifest input.size must be [height, width], got {size!r}")
    return int(size[0]), int(size[1])


def preprocess(rgb: np.ndarray, manifest: Dict[str, Any], size: Optional[tuple] = None) -> np.ndarray:
    """uint8 HxWx3 -> float32 1xHxWx3 at the model's size, ``(x/255 - mean) / std``."""
    inp = manifest["input"]
    h, w = size or _input_hw(manifest)
    resample = _RESAMPLE.get(manifest.get("inference", {}).get("resample", "bilinear"), Image.BILINEAR)
    if rgb.shape[0] != h or rgb.shape[1] != w:
        rgb = np.asarray(Image.fromarray(rgb).resize((w, h), resample))
    lo, hi = inp.get("range", [0.0, 1.0])
    x = rgb.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
    mean = np.asarray(inp.get("mean", [0.0, 0.0, 0.0]), np.float32)
    std = np.asarray(inp.get("std", [1.0, 1.0, 1.0]), np.float32)
    x = (x - mean) / std
    if str(inp.get("channels", "RGB")).upper() == "BGR":
        x = x[..., ::-1]
    return np.ascontiguousarray(x[None])


# ------------------------------------------------------------------------------ inference modes
@MODES.register("resize")
def mode_resize(model: "Model", photo: imageio.Photo) -> List[np.ndarray]:
    """Resize the whole photo to the model's input, run once; outputs stay at model resolution."""
    return model.engine.run(preprocess(photo.rgb, model.manifest))


# --------------------------------------------------------------------------------- output kinds
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
        """The main user-facing image (for ``alpha``: the RGBA cut-out)."""
        return OUTPUT_KINDS.get(self.kind).image(self)

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
        y = raw[0]
        y = y[0] if y.ndim == 4 else y            # HxWxC
        m = y[..., 0] if y.ndim == 3 else y
        lo, hi = model.manifest["output"].get("range", [0.0, 1.0])
        m = (m.astype(np.float32) - lo) / max(hi - lo, 1e-12)
        H, W = photo.rgb.shape[:2]
        if m.shape != (H, W):
            m = np.asarray(Image.fromarray(np.ascontiguousarray(m, np.float32), mode="F").resize((W, H), Image.BILINEAR))
        mask = np.clip(m, 0.0, 1.0)
        return {"mask": mask}

    @staticmethod
    def composite(result: Result) -> np.ndarray:
        photo = result.photo
        a = result.outputs["mask"] * 255.0
        if photo.alpha is not None:  # keep what was already transparent in the input
            a = a * (photo.alpha.astype(np.float32) / 255.0)
        rgba = np.empty(photo.rgb.shape[:2] + (4,), np.uint8)
        rgba[..., :3] = photo.rgb
        rgba[..., 3] = (a + 0.5).astype(np.uint8)
        return rgba

    @classmethod
    def image(cls, result: Result) -> Image.Image:
        if "rgba" not in result.outputs:
            result.outputs["rgba"] = cls.composite(result)
        return Image.fromarray(result.outputs["rgba"], "RGBA")


OUTPUT_KINDS.register("alpha", AlphaOutput)


# ----------------------------------------------------------------------------------- the model
class Model:
    """A model directory loaded with one engine. ``predict`` takes a path, PIL image or array."""

    def __init__(self, manifest: Dict[str, Any], engine: Engine) -> None:
        self.manifest = manifest
        self.engine = engine
        self.task = manifest["task"]
        self.dir = manifest.get("_dir", "")
        mode = manifest["inference"].get("mode", "resize")
        kind = manifest["output"].get("kind")
        self._mode: Callable = MODES.get(mode)
        self._kind = OUTPUT_KINDS.get(kind)
        self.kind = kind
        self.primary_output = getattr(self._kind, "primary", None)

    def __repr__(self) -> str:
        m = self.manifest
        return (f"<edgephoto Model {m['task']}/{m.get('variant', '?')} {m['format']}_{m['precision']} "
                f"engine={self.engine.name} threads={self.engine.threads}>")

    @property
    def input_size(self) -> tuple:
        return _input_hw(self.manifest)

    def read(self, image: Any, downscale: bool = False, max_side: Optional[int] = None,
             max_upload_mb: Optional[float] = None) -> imageio.Photo:
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

    def run_raw(self, x: np.ndarray) -> List[np.ndarray]:
        """The engine on an already pre-processed NHWC float32 batch (for parity checks)."""
        return self.engine.run(x)
