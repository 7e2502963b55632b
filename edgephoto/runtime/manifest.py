"""The manifest: one JSON file beside every exported model, the only thing the runtime trusts.

Layout of an exported model directory (one per task x variant x format x precision)::

    dist/<task>/<variant>/<format>_<precision>/
        manifest.json
        model.onnx | model.tflite | model.json + *.bin (TF.js)

Manifest fields (``version`` 1)::

    {"version": 1,
     "task": "matte", "variant": "student-kd-t2", "arch": "u2netp_slim",
     "format": "tflite", "precision": "int8", "engine": "litert",
     "file": "model.tflite", "sha256": "...", "bytes": 312345,
     "shipped": true,                       # the variant the runtime/page use by default
     "ship_format": true,                   # optional: within it, the format a device runs by default
                                            # (the budgets' ship_format, e.g. deblur's tflite_fp16)
     "input": {"name": "image", "layout": "NHWC", "size": [192, 192], "channels": "RGB",
               "range": [0, 1], "mean": [...], "std": [...], "dtype": "float32",
               "scale": "255"},                 # optional: "255" (default) or "max"
     "output": {"name": "mask", "kind": "alpha", "range": [0, 1], "channels": 1, "meaning": "...",
                "index": 0},                    # optional: which engine output to read (default 0)
     "inference": {"mode": "resize", "resample": "bilinear"},   # or {"mode": "tile", ...}
     "params": 286237, "macs": 1.2e9,
     "parity": {"reference": "torch-fp32", "images": 16, "max_abs": ..., "mean_abs": ...,
                "mae_drop": ..., "iou_drop": ...},
     "metrics": {"mae": ..., "max_f": ..., "iou": ..., "split": "test", "images": 200},
     "role": "ours",                            # optional: "ours" (default) | "peer" | "teacher"
     "source": {"checkpoint": "...", "edgephoto": "0.1.0", "created": "ISO time"}}

The runtime feeds ``(pixels * (hi - lo) / d + lo - mean) / std`` in ``layout`` at ``size``, where
``[lo, hi]`` is ``input.range`` and ``d`` is 255, or with ``input.scale: "max"`` the largest value of
the whole resized image (rembg's ``x / max(x)``), and reads engine output ``output.index`` as
``output.kind`` says. Int8 models carry their quantization inside the file; the engine reads it there.

Imported models (``edgephoto import``, :mod:`edgephoto.export.importer`) use the same schema with
``arch: "imported"``, ``role: "peer"`` (a model to compare against; the bench labels it and never
treats it as shipped) or ``"teacher"`` (to distill from), ``shipped: false``, ``parity`` against an
independent run of the original file (``reference`` names it) and ``source``: ``{"file", "package",
"version", "licence", "sha256" (of the original file), "imported" (ISO time), "edgephoto"}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import UserError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
REQUIRED = ("task", "format", "precision", "file", "input", "output", "inference")


class ManifestError(UserError, ValueError):
    """A model directory that cannot be used; the message is one line for the user."""


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of all files of a directory (sorted by name) for multi-file models."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != MANIFEST_NAME) \
        if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def load_manifest(model_dir: Path) -> Dict[str, Any]:
    """Read and check ``model_dir/manifest.json`` (``model_dir`` may also be the file itself)."""
    p = Path(model_dir)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise ManifestError(f"no {MANIFEST_NAME} in {p.parent} (is this an exported model directory?)")
    try:
        m = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ManifestError(f"unreadable manifest {p}: {e}") from None
    missing = [k for k in REQUIRED if k not in m] if isinstance(m, dict) else list(REQUIRED)
    if missing:
        raise ManifestError(f"manifest {p} lacks field(s): {', '.join(missing)}")
    if isinstance(m.get("version", 1), int) and m.get("version", 1) > MANIFEST_VERSION:
        raise ManifestError(f"manifest {p} has version {m['version']}; this runtime reads up to "
                            f"{MANIFEST_VERSION} (upgrade edgephoto)")
    from .spec import check_manifest   # the schema generated from the typed spec
    try:
        m["_spec"] = check_manifest(m)   # the parsed contract (keys with "_" are never written)
    except ManifestError as e:
        raise ManifestError(f"{p}: {e}") from None
    m["_dir"] = str(p.parent)
    return m


def model_file(manifest: Dict[str, Any]) -> Path:
    f = Path(manifest["_dir"]) / manifest["file"]
    if not f.exists():
        raise ManifestError(f"model file {f} named by the manifest is missing")
    return f


def write_json_atomic(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON via a temporary file + rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({k: v for k, v in data.items() if not k.startswith("_")}, fh, indent=2)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes owner-only files; manifests are meant to be shared
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- the catalog
@dataclass(frozen=True)
class ModelEntry:
    """One exported (or imported) model directory ``dist/<task>/<variant>/<key>/``.

    ``manifest`` is the checked manifest, or None with ``error`` (one line) when it cannot be used:
    the bench shows such rows, everything else skips them.
    """

    dir: Path
    manifest: Optional[Dict[str, Any]]
    error: Optional[str] = None

    @property
    def task(self) -> str:
        return (self.manifest or {}).get("task") or self.dir.parent.parent.name

    @property
    def variant(self) -> str:
        return (self.manifest or {}).get("variant") or self.dir.parent.name

    @property
    def key(self) -> str:
        """The format key, e.g. ``tflite_int8`` (the directory's name)."""
        return self.dir.name

    @property
    def role(self) -> str:
        """``ours`` (exported from our checkpoints), ``peer`` or ``teacher`` (imported)."""
        return (self.manifest or {}).get("role") or "ours"

    @property
    def shipped(self) -> bool:
        """The variant the runtime and the page use by default (never an imported model)."""
        return bool((self.manifest or {}).get("shipped", False)) and self.role == "ours"


def list_models(dist: Union[str, Path] = "dist", task: Optional[str] = None, key_prefix: str = "",
                include_broken: bool = False) -> List[ModelEntry]:
    """Every model directory under ``dist`` (``<task>/<variant>/<key>/manifest.json``), sorted by
    task, variant, key. ``key_prefix`` (e.g. ``"tfjs_"``) keeps one family of formats. The one
    model lookup: the runtime's ``find_model``, the bench, the web index and export use it."""
    pattern = f"{task or '*'}/*/{key_prefix}*/{MANIFEST_NAME}"
    out = []
    for mp in sorted(Path(dist).glob(pattern)):
        try:
            out.append(ModelEntry(mp.parent, load_manifest(mp.parent)))
        except ManifestError as e:
            if include_broken:
                out.append(ModelEntry(mp.parent, None, str(e)))
    return out
