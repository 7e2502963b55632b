"""ONNX rows: fp32 straight from PyTorch, fp16 and int8 (static QDQ) derived from the fp32 graph.

``torch.onnx.export(..., opset_version=17, dynamo=False)`` with a static ``1x3xSxS`` input named by
the task (``image``) and the task's output name (``mask``).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Dict

import numpy as np

from .formats import BUILDERS, FormatSpec

OPSET = 17


def export_onnx(module, size: int, path: Path, input_name: str = "image",
                output_name: str = "mask") -> Path:
    """Trace ``module`` (normalized NCHW -> output NCHW) into an ONNX file with a static shape."""
    import onnx
    import torch

    path = Path(path)
    x = torch.zeros(1, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the legacy (TorchScript) exporter is chosen on purpose
        with torch.no_grad():
            torch.onnx.export(module.eval(), x, str(path), opset_version=OPSET, dynamo=False,
                              input_names=[input_name], output_names=[output_name],
                              do_constant_folding=True)
    onnx.checker.check_model(str(path))
    return path


@BUILDERS.register("onnx_fp32")
def build_onnx_fp32(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    shutil.copyfile(ctx.onnx_fp32(), out_dir / spec.file)
    return {}


@BUILDERS.register("onnx_fp16")
def build_onnx_fp16(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    from ..compress.quantize import convert_onnx_fp16
    return {"quantization": convert_onnx_fp16(ctx.onnx_fp32(), out_dir / spec.file)}


@BUILDERS.register("onnx_int8")
def build_onnx_int8(ctx, spec: FormatSpec, out_dir: Path) -> Dict[str, Any]:
    from ..compress.quantize import quantize_onnx_int8
    q = quantize_onnx_int8(ctx.onnx_fp32(), out_dir / spec.file, ctx.calibration(),
                           input_name=ctx.input_name, method=ctx.int8_method)
    return {"quantization": q}


def run_onnx(path: Path, images_nhwc: np.ndarray, threads: int = 0) -> np.ndarray:
    """Run an ONNX image model one image at a time; returns N x H x W (first output channel)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = []
    for img in images_nhwc:
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None]).astype(np.float32)
        y = sess.run(None, {name: x})[0]
        outs.append(np.asarray(y, np.float32)[0, 0])
    return np.stack(outs)
