"""TFLite rows via onnx2tf (SavedModel + fp32/fp16 .tflite) and TFLiteConverter (full-int8).

onnx2tf runs as a subprocess in a temporary working directory that already holds
``calibration_image_sample_data_20x128x128x3_float32.npy`` made from *our* calibration images: for
any 4-D 3-channel image input onnx2tf loads that file from the current directory for its own output
check and would otherwise try to download it (there is no network here). ``-oiqt`` is never used
(it adds int16-activation variants and takes minutes); the int8 model is made from the SavedModel
with ``tf.lite.TFLiteConverter`` and a representative dataset of the calibration images.

int8 I/O choice: the full-integer model keeps **float32 input and output** (a QUANTIZE op after the
input and a DEQUANTIZE before the output; every op in between is int8, per-channel weights). This
runs on XNNPACK in ai_edge_litert exactly like the float models, so the runtime feeds the same
normalized float32 NHWC image to every TFLite file; the manifest says ``input.dtype: float32`` and
``quantization.io: float32``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import numpy as np

from .formats import BUILDERS, FormatSpec

ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"
ONNX2TF_TIMEOUT_S = int(os.environ.get("EDGEPHOTO_ONNX2TF_TIMEOUT", "3600"))


class ConversionError(RuntimeError):
    """A converter failed; ``str(e)`` is one line."""


def tool_path(name: str) -> str:
    """A console script of the running interpreter's environment (falls back to PATH)."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise ConversionError(f"`{name}` not found (install the build extra: pip install -e '.[build]')")
    return found


def tool_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    return env


def last_error_line(text: str) -> str:
    """The most telling line of a converter's output (its last error-ish line)."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for l in reversed(lines):
        if any(w in l for w in ("Error", "error", "ERROR", "Exception", "failed")):
            return l[:300]
    return (lines[-1] if lines else "no output")[:300]


def write_onnx2tf_sample(work_dir: Path, calib) -> Path:
    """onnx2tf's sample-data file (20 x 128 x 128 x 3 float32 RGB in [0, 1]) from our images."""
    from ..data.folders import load_rgb

    paths = list(calib.paths)
    if not paths:    # no images (a generator's latents): onnx2tf needs no sample for a vector input
        return None
    paths = [paths[i % len(paths)] for i in range(20)]
    arr = np.stack([load_rgb(p, (128, 128)) for p in paths]).astype(np.float32) / 255.0
    out = Path(work_dir) / ONNX2TF_SAMPLE
    np.save(out, arr)
    return out


def onnx2tf_convert(onnx_path: Path, work_dir: Path, calib) -> Path:
    """onnx2tf -> ``work_dir/saved_model`` (SavedModel + <stem>_float32/_float16.tflite)."""
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    write_onnx2tf_sample(work_dir, calib)
    out = work_dir / "saved_model"
    cmd = [tool_path("onnx2tf"), "-i", str(Path(onnx_path).resolve()), "-o", str(out),
           "-osd", "-coion", "-n"]
    try:
        r = subprocess.run(cmd, cwd=work_dir, env=tool_env(), capture_output=True, text=True,
                           timeout=ONNX2TF_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"onnx2tf timed out after {ONNX2TF_TIMEOUT_S} s") from None
    (work_dir / "onnx2tf.log").write_text(r.stdout + "\n" + r.stderr)
    stem = Path(onnx_path).stem
    if r.returncode != 0 or not (out / "saved_model.pb").exists() \
            or not (out / f"{stem}_float32.tflite").exists():
        raise ConversionError(f"onnx2tf failed (rc {r.returncode}): {last_error_line(r.stdout + r.stderr)}")
    return out


@BUILDERS.register("tflite_fp32")
def build_tflite_fp32(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    sm = ctx.saved_model()
    shutil.copyfile(sm / f"{ctx.onnx_stem}_float32.tflite", out_dir / spec.file)
    return {}


@BUILDERS.register("tflite_fp16")
def build_tflite_fp16(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    sm = ctx.saved_model()
    shutil.copyfile(sm / f"{ctx.onnx_stem}_float16.tflite", out_dir / spec.file)
    return {"quantization": {"mode": "fp16", "weights": "float16", "activations": "float32",
                             "io": "float32", "tool": "onnx2tf"}}


@BUILDERS.register("tflite_int8")
def build_tflite_int8(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    calib = ctx.calibration()
    sm = ctx.saved_model()
    data = calib.nhwc()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    def representative():
        for i in range(len(data)):
            yield [data[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_saved_model(str(sm))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.float32
    conv.inference_output_type = tf.float32
    blob = conv.convert()
    (out_dir / spec.file).write_bytes(blob)
    return {"quantization": {"mode": "full-integer", "weights": "int8 per-channel symmetric",
                             "activations": "int8 per-tensor asymmetric", "io": "float32",
                             "tool": f"tf.lite.TFLiteConverter (tensorflow {tf.__version__})",
                             "calibration": calib.info()}}


def make_interpreter(path: Path, threads: int = 0):
    """LiteRT interpreter (ai_edge_litert, else tflite_runtime, else tensorflow.lite)."""
    kw = {"num_threads": threads} if threads else {}
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            from tensorflow.lite import Interpreter
    it = Interpreter(model_path=str(path), **kw)
    it.allocate_tensors()
    return it


