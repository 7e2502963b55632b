"""TF.js rows: ``tensorflowjs_converter`` on the onnx2tf SavedModel -> graph model (fp16 / uint8).

Parity runs the bundle through the runtime's ``tfjs`` engine: TF.js 4.22 in Node on the wasm backend
via ``node/run_tfjs.js`` (Node modules: ``npm ci --prefix edgephoto/export/node``;
``EDGEPHOTO_NODE_DIR`` may point to another folder holding ``run_tfjs.js`` and its ``node_modules``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict

from ..runtime.engines import node_problem
from .formats import BUILDERS, FormatSpec
from .tflite import ConversionError, last_error_line, tool_env, tool_path

QUANT_FLAG = {"fp16": "--quantize_float16", "uint8": "--quantize_uint8"}


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
