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
                output_name: str = "mask", channels: int = 3, shape=None) -> Path:
    """Trace ``module`` (normalized NCHW -> output NCHW) into an ONNX file with a static shape
    (``1 x channels x size x size``, or ``shape``, e.g. a generator's ``1 x latent``)."""
    import onnx
    import torch

    path = Path(path)
    x = torch.zeros(*shape) if shape else torch.zeros(1, channels, size, size)
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
    from ..compress.quantize import int8_sensitive_nodes, quantize_onnx_int8
    exclude = []
    if ctx.int8_fallback:   # mixed precision: the layers int8 hurts most stay float32
        worst = int8_sensitive_nodes(ctx.onnx_fp32(), ctx.calibration(), ctx.int8_fallback, ctx.input_name)
        exclude = [w["node"] for w in worst]
        ctx.progress(f"  int8: float32 fallback for {len(exclude)} layer(s): "
                     + ", ".join(f"{w['node']} (+{w['added']:.3f})" for w in worst))
    q = quantize_onnx_int8(ctx.onnx_fp32(), out_dir / spec.file, ctx.calibration(),
                           input_name=ctx.input_name, method=ctx.int8_method, exclude=exclude)
    return {"quantization": q}


def ceil_pools_to_edge_pad(src: Path, dst: Path) -> int:
    """Rewrite ``MaxPool(ceil_mode=1)`` as ``Pad(mode=edge)`` + ``MaxPool(ceil_mode=0)``; returns the count.

    Same result (the replicated edge value is already inside the window, so the max is unchanged),
    but onnx2tf lowers ceil-mode pooling to a pad with the float minimum (-3.4e38), and int8
    calibration then gives that tensor a scale of ~1e36: the int8 TFLite model loses those
    activations and XNNPACK refuses to run it. Applied to the graph given to onnx2tf only.
    """
    import math

    import onnx
    from onnx import helper, numpy_helper

    model = onnx.shape_inference.infer_shapes(onnx.load(str(src)))
    g = model.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    new_nodes, count = [], 0
    for node in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        shape = shapes.get(node.input[0]) if node.input else None
        if node.op_type != "MaxPool" or not attrs.get("ceil_mode") or not shape or None in shape[2:]:
            new_nodes.append(node)
            continue
        k = list(attrs["kernel_shape"])
        nd = len(k)
        s = list(attrs.get("strides", [1] * nd))
        pads = list(attrs.get("pads", [0] * (2 * nd)))
        if any(d != 1 for d in attrs.get("dilations", [1] * nd)) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            new_nodes.append(node)
            continue
        extra = []
        for i in range(nd):
            n, pb, pe = shape[2 + i], pads[i], pads[nd + i]
            o = math.ceil((n + pb + pe - k[i]) / s[i]) + 1
            if (o - 1) * s[i] >= n + pb:   # the last window must start inside the input
                o -= 1
            extra.append(max(0, (o - 1) * s[i] + k[i] - (n + pb + pe)))
        pad_vals = [0, 0] + pads[:nd] + [0, 0] + [pads[nd + i] + extra[i] for i in range(nd)]
        pname = f"{node.name or node.output[0]}_edgepad"
        pads_init = numpy_helper.from_array(__import__("numpy").asarray(pad_vals, "int64"), pname + "_pads")
        g.initializer.append(pads_init)
        new_nodes.append(helper.make_node("Pad", [node.input[0], pads_init.name], [pname + "_out"],
                                          name=pname, mode="edge"))
        keep = {a: v for a, v in attrs.items() if a not in ("ceil_mode", "pads")}
        new_nodes.append(helper.make_node("MaxPool", [pname + "_out"], list(node.output),
                                          name=node.name, **keep))
        count += 1
    del g.node[:]
    g.node.extend(new_nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return count
