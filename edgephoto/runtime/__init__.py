"""edgephoto's device runtime: load an exported model directory by its manifest and run it.

Imports only numpy, Pillow and (when a model is loaded) one inference engine; never torch or
TensorFlow (``tensorflow`` is used only if asked for, or as the last fallback for TFLite)::

    from edgephoto import runtime
    model = runtime.load(runtime.find_model("matte"))          # or load("dist/matte/.../tflite_int8")
    result = model.predict("photo.jpg")                        # EXIF/CMYK/16-bit/... handled
    result.mask           # float32 HxW in [0, 1] at the photo's full resolution
    result.save("cutout.png")                                  # RGBA cut-out

    retouch = runtime.load(runtime.find_model("retouch"))      # output kind "image", mode "tile"
    result = retouch.predict("photo.jpg")                      # full resolution, tiled at the model size
    result.outputs["image"]   # float32 HxWx3 in [0, 1], the photo's size
    result.adjust({"brightness": "auto", "contrast": 10})      # optional, on what save() writes
    result.save("retouched.jpg")                               # RGB (RGBA if the input had alpha)

Inference modes (manifest ``inference.mode``, registry ``MODES``): ``resize``, ``tile`` (``pad``);
output kinds (manifest ``output.kind``, registry ``OUTPUT_KINDS``): ``alpha``, ``image``.

Errors the user can fix are ``UserError`` subclasses with a one-line message: ``ImageError``
(bad/huge/corrupt input), ``ManifestError`` (bad model directory), ``EngineError`` (no engine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Union

from ..errors import UserError
from .engines import ENGINES, EngineError, available_engines, can_run, pick_engine
from .imageio import ImageError, Photo, read_image
from .manifest import (MANIFEST_NAME, ManifestError, ModelEntry, load_manifest, model_file, sha256_of,
                       list_models as catalog)
from .model import MODES, OUTPUT_KINDS, Model, Result, normalize, preprocess

__all__ = ["load", "find_model", "list_models", "catalog", "ModelEntry", "Model", "Result", "Photo", "read_image", "preprocess", "normalize",
           "ENGINES", "MODES", "OUTPUT_KINDS", "available_engines", "UserError", "ImageError",
           "ManifestError", "EngineError", "PREFERENCE"]

# find_model's order: what a device should run when nothing is asked (int8 first: smallest, fastest)
PREFERENCE = ["tflite_int8", "onnx_int8", "tflite_fp32", "onnx_fp32", "tflite_fp16", "onnx_fp16"]


def _check_file(manifest: Dict, path: Path) -> None:
    """The model file(s) are what the manifest says: size and sha256. A multi-file bundle (TF.js:
    ``files`` lists model.json and its shards) is checked as a whole."""
    want_bytes, want_sha = manifest.get("bytes"), manifest.get("sha256")
    if manifest.get("files"):
        parts = [path.parent / f for f in manifest["files"]]
        missing = [p.name for p in parts if not p.is_file()]
        if missing:
            raise ManifestError(f"{path.parent} lacks {', '.join(missing)} named by the manifest (re-export it)")
        have = sum(p.stat().st_size for p in parts)
        where = f"{path.parent} (its {len(parts)} files)"
    else:
        have = path.stat().st_size if path.is_file() else None
        where = str(path)
    if want_bytes is not None and have is not None and have != int(want_bytes):
        raise ManifestError(f"{where} is {have} bytes, the manifest says {want_bytes} "
                            f"(truncated or replaced? re-export it)")
    if want_sha and sha256_of(path) != want_sha and sha256_of(path.parent) != want_sha:
            raise ManifestError(f"{path} does not match the manifest's sha256 (corrupt or replaced? re-export it)")


def load(model_dir: Union[str, Path], engine: Optional[str] = None, threads: Optional[int] = None,
         verify: bool = True) -> Model:
    """Load ``model_dir`` (with its ``manifest.json``) on ``engine`` (default: best installed)."""
    m = load_manifest(Path(model_dir))
    path = model_file(m)
    if verify:
        _check_file(m, path)
    cls = pick_engine(m["format"], requested=engine, preferred=m.get("engine"))
    spec = m["_spec"]
    return Model(m, cls(str(path), threads=threads, layout=spec.input.layout), spec)


def list_models(task: Optional[str] = None, dist: Union[str, Path] = "dist") -> List[Dict]:
    """Manifests of every usable exported model under ``dist`` (``dist/<task>/<variant>/<fmt>_<prec>/``)."""
    return [e.manifest for e in catalog(dist, task)]


def find_model(task: str, dist: Union[str, Path] = "dist", format: Optional[str] = None,
               precision: Optional[str] = None) -> Path:
    """The model directory a device should use for ``task``.

    The shipped variant (manifest ``shipped: true``) first; within it the format it ships in
    (``ship_format: true``, e.g. deblur's tflite_fp16), then tflite int8, onnx int8, fp32, fp16,
    keeping only formats whose engine is installed here. Imported models
    (``role`` peer / teacher) come only after every model of our own.
    """
    found = list_models(task, dist)
    if not found:
        raise ManifestError(f"no exported model for task '{task}' under {dist}/ "
                            f"(run `make export`, or pass --model DIR)")
    cands = [m for m in found
             if (format is None or m["format"] == format) and (precision is None or m["precision"] == precision)]
    runnable = [m for m in cands if can_run(m["format"])]
    if not runnable:
        what = "/".join(x for x in (format, precision) if x) or "any format"
        fmts = sorted({m["format"] for m in cands}) or ["none"]
        raise EngineError(f"no runnable '{task}' model ({what}) under {dist}/: found formats "
                          f"{', '.join(fmts)}; installed engines: {', '.join(available_engines()) or 'none'}")

    def key(m):
        fp = f"{m['format']}_{m['precision']}"
        return (not m.get("shipped", False), m.get("role", "ours") not in (None, "ours"),
                not m.get("ship_format", False), PREFERENCE.index(fp) if fp in PREFERENCE else 99,
                m.get("variant", ""))

    return Path(sorted(runnable, key=key)[0]["_dir"])
