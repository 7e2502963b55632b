"""TF.js rows: ``tensorflowjs_converter`` on the onnx2tf SavedModel -> graph model (fp16 / uint8).

Parity runs the bundle with TF.js 4.22 in Node on the wasm backend via ``node/run_tfjs.js``
(Node modules: ``npm ci --prefix edgephoto/export/node``; ``EDGEPHOTO_NODE_DIR`` may point to
another folder holding ``run_tfjs.js`` and its ``node_modules``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict

import numpy as np

from .formats import BUILDERS, FormatSpec
from .tflite import ConversionError, last_error_line, tool_env, tool_path

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_TIMEOUT_S = 1800
QUANT_FLAG = {"fp16": "--quantize_float16", "uint8": "--quantize_uint8"}


def node_dir() -> Path:
    return Path(os.environ.get("EDGEPHOTO_NODE_DIR", NODE_DIR))


def node_problem() -> str | None:
    """None when node and the TF.js modules are installed, else a one-line reason."""
    d = node_dir()
    if not shutil.which("node"):
        return "node is not installed (apt-get install nodejs npm), needed to check the TF.js bundle"
    for mod in ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm"):
        if not (d / "node_modules" / mod / "package.json").exists():
            return (f"Node module {mod} missing: run `npm ci --prefix {d}` "
                    f"(or `make node`) to check TF.js bundles")
    return None


def convert_tfjs(saved_model: Path, out_dir: Path, precision: str) -> None:
    cmd = [tool_path("tensorflowjs_converter"), "--input_format=tf_saved_model",
           "--output_format=tfjs_graph_model", "--signature_name=serving_default",
           "--saved_model_tags=serve", f"{QUANT_FLAG[precision]}=*", str(saved_model), str(out_dir)]
    r = subprocess.run(cmd, env=tool_env(), capture_output=True, text=True, timeout=1800)
    if r.returncode != 0 or not (Path(out_dir) / "model.json").exists():
        raise ConversionError(f"tensorflowjs_converter failed (rc {r.returncode}): "
                              f"{last_error_line(r.stdout + r.stderr)}")


def _builder(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    problem = node_problem()
    if problem:   # fail before converting: an unchecked bundle is never shipped
        raise ConversionError(problem)
    convert_tfjs(ctx.saved_model(), out_dir, spec.precision)
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    q = {"mode": "weights-only", "weights": "float16" if spec.precision == "fp16" else
         "uint8 affine per-tensor", "activations": "float32", "io": "float32",
         "tool": "tensorflowjs_converter 4.22.0"}
    return {"files": files, "quantization": q}


BUILDERS.register("tfjs_fp16", _builder)
BUILDERS.register("tfjs_uint8", _builder)


def run_tfjs(model_dir: Path, images_nhwc: np.ndarray, threads: int = 0) -> np.ndarray:
    """Run a TF.js graph model in Node (wasm); returns N x H x W x C."""
    problem = node_problem()
    if problem:
        raise ConversionError(problem)
    with tempfile.TemporaryDirectory(prefix="edgephoto-tfjs-") as tmp:
        inp, outp = Path(tmp) / "in.npy", Path(tmp) / "out.npy"
        np.save(inp, np.ascontiguousarray(images_nhwc, np.float32))
        cmd = ["node", str(node_dir() / "run_tfjs.js"), str(model_dir), str(inp), str(outp)]
        if threads:
            cmd += ["--threads", str(threads)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
        if r.returncode != 0 or not outp.exists():
            raise ConversionError(f"TF.js run in Node failed: {last_error_line(r.stderr + r.stdout)}")
        y = np.load(outp)
        try:
            run_tfjs.last_info = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            run_tfjs.last_info = {}
    return y.reshape(y.shape[0], y.shape[1], y.shape[2], -1)
