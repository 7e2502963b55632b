"""Multiply-accumulate count of an ONNX graph (conv / matmul work), for manifests and the bench.

``count_macs(model)`` runs ONNX shape inference and sums, per node:
Conv: out_elems * (Cin / group) * prod(kernel); ConvTranspose: in_elems * (Cout / group) *
prod(kernel); MatMul: prod(output) * K; Gemm: M * N * K. QLinearConv/ConvInteger and
QLinearMatMul/MatMulInteger count like their float forms. Elementwise ops, pooling and resizes are
not counted (they are memory-bound; MACs are what the arithmetic throughput is judged by).
Needs only ``onnx`` (no torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Union

CONV_OPS = {"Conv", "QLinearConv", "ConvInteger"}
MATMUL_OPS = {"MatMul", "QLinearMatMul", "MatMulInteger"}


def _shapes(model) -> Dict[str, List[Optional[int]]]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes: Dict[str, List[Optional[int]]] = {}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _prod(xs) -> int:
    p = 1
    for x in xs:
        if x is None:
            return 0
        p *= int(x)
    return p


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            import onnx
            return onnx.helper.get_attribute_value(a)
    return default


def count_macs(model: Union[str, Path, "onnx.ModelProto"]) -> int:  # noqa: F821
    """MACs of one forward pass of the graph at its static input shape (0 for unknown shapes)."""
    import onnx

    if not hasattr(model, "graph"):
        model = onnx.load(str(model))
    shapes = _shapes(model)
    total = 0
    for node in model.graph.node:
        op = node.op_type
        if op in CONV_OPS or op == "ConvTranspose":
            # weight input: Conv/ConvInteger -> input 1, QLinearConv -> input 3
            w_name = node.input[3] if op == "QLinearConv" else node.input[1]
            w = shapes.get(w_name)
            out = shapes.get(node.output[0])
            inp = shapes.get(node.input[0])
            if not w or not out or not inp:
                continue
            k = _prod(w[2:])
            if op == "ConvTranspose":
                total += _prod(inp) * (w[1] if w[1] else 0) * k  # w: Cin x Cout/group x k
            else:
                total += _prod(out) * (w[1] or 0) * k  # w: Cout x Cin/group x k
        elif op in MATMUL_OPS:
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            if not a or not out:
                continue
            total += _prod(out) * (a[-1] or 0)
        elif op == "Gemm":
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            if not a or not out:
                continue
            k = a[0] if int(_attr(node, "transA", 0) or 0) else a[-1]
            total += _prod(out) * (k or 0)
    return int(total)


def count_params(model: Union[str, Path, "onnx.ModelProto"]) -> int:  # noqa: F821
    """Number of elements in the graph's float/int initializers of rank >= 1 (weights, biases)."""
    import onnx

    if not hasattr(model, "graph"):
        model = onnx.load(str(model))
    return int(sum(_prod(i.dims) for i in model.graph.initializer if len(i.dims) >= 1))
