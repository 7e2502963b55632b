"""A teacher that is an exported (e.g. imported) model directory, run through ``edgephoto.runtime``.

``edgephoto compress --task matte --teacher dist/matte/u2netp/onnx_fp32`` distills from a published model that
has no PyTorch code here. The wrapper stands where the teacher ``nn.Module`` would be in the
trainer (``teacher(x)`` under ``torch.no_grad()``):

1. the student's batch (NCHW, normalized with the *task's* mean/std) is mapped back to uint8 RGB;
2. each image goes through ``runtime.load(dir).predict(...)``, i.e. the teacher manifest's *own*
   preprocessing and input size (U2-Netp: 320x320, x / max(x), LANCZOS), and its output kind gives
   the user-facing prediction (a mask, an image) at the image's resolution;
3. that is resized to the student's resolution (bilinear; a no-op when it already matches) and
   turned back into what ``task.distill_loss`` expects as the teacher's raw output by
   ``task.raw_from_exported`` (matte: probabilities -> logits; retouch: [0, 1] -> [-1, 1]).

No gradients flow into it and it has no parameters; inference is numpy + one engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional, Union

import numpy as np

from ..errors import UserError
from ..runtime.manifest import MANIFEST_NAME


def is_model_dir(path: Union[str, Path]) -> bool:
    """True for an exported model directory (one holding a manifest.json)."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST_NAME).is_file()


class ImportedTeacher:
    def __init__(self, model_dir: Union[str, Path], task, threads: Optional[int] = None) -> None:
        from .. import runtime
        self.dir = Path(model_dir)
        self.model = runtime.load(self.dir, threads=threads)
        if self.model.task != task.name:
            raise UserError(f"teacher {self.dir} is a '{self.model.task}' model, not '{task.name}'")
        if self.model.primary_output is None:
            raise UserError(f"teacher {self.dir}: output kind '{self.model.kind}' has no primary output")
        self.task = task
        self.mean = np.asarray(task.mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(task.std, np.float32).reshape(1, 3, 1, 1)

    def __repr__(self) -> str:
        m = self.model.manifest
        return f"<ImportedTeacher {m['task']}/{m.get('variant', '?')} {m['format']}_{m['precision']} {self.dir}>"

    # what the trainer may call on a teacher module
    def parameters(self) -> Iterator[Any]:
        return iter(())

    def eval(self) -> "ImportedTeacher":
        return self

    def to_uint8(self, x) -> np.ndarray:
        """The student's normalized NCHW batch -> uint8 NHWC RGB (inverse of the task's mean/std)."""
        a = x.detach().cpu().numpy().astype(np.float32) if hasattr(x, "detach") else np.asarray(x, np.float32)
        # tasks with global context carry more channels after RGB (input.context): the teacher gets
        # the photo's pixels and its own manifest's preprocessing
        rgb = (a[:, :3] * self.std + self.mean) * 255.0
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)

    def predict_batch(self, x) -> np.ndarray:
        """The exported model's output at the student's resolution: NxHxW (alpha) or NxHxWx3 (image)."""
        from ..runtime.model import resize_map
        rgb = self.to_uint8(x)
        h, w = rgb.shape[1:3]
        outs = []
        for im in rgb:
            y = self.model.predict(im, composite=False).outputs[self.model.primary_output]
            outs.append(resize_map(np.asarray(y, np.float32), (h, w)))
        return np.stack(outs)

    def __call__(self, x):
        import torch
        y = torch.from_numpy(self.predict_batch(x))
        y = y[:, None] if y.ndim == 3 else y.permute(0, 3, 1, 2).contiguous()
        return self.task.raw_from_exported(y)
