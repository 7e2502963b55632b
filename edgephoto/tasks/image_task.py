"""``ImageTask``: the shared half of the image-to-image tasks (retouch, deblur, upscale).

Images are in [-1, 1] on both sides (mean 0.5, std 0.5); targets are read as RGB in [0, 1]; the
model's loss is L1 to the target; distillation regresses on the teacher's image as well
(``alpha * L1(student, target) + (1 - alpha) * L1(student, teacher)``; a task whose outputs can be
softened by a temperature overrides it, as retouch does); the export head maps the model's [-1, 1]
output to [0, 1] RGB.
"""

from __future__ import annotations

import numpy as np

from .base import Task


class ImageTask(Task):
    def load_target(self, path, size=None):
        from ..data.folders import load_rgb
        return load_rgb(path, size).astype(np.float32) / 255.0

    # ---- losses (tensors in [-1, 1])
    def loss(self, raw, target):
        import torch.nn.functional as F
        return F.l1_loss(self.outputs(raw)[0], target)

    def distill_loss(self, student_raw, teacher_raw, target, temperature=2.0, alpha=0.5, hint_weight=0.0):
        """Regression on the teacher's image: no temperature (T is ignored)."""
        import torch.nn.functional as F
        s, t = self.outputs(student_raw)[0], self.outputs(teacher_raw)[0]
        return alpha * F.l1_loss(s, target) + (1 - alpha) * F.l1_loss(s, t)

    def export_module(self, model):
        import torch

        class ImageHead(torch.nn.Module):
            """normalized image in [-1, 1] -> the task's output image, RGB in [0, 1]."""

            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                y = self.net(x) * 0.5 + 0.5
                # clamp(y, 0, 1) written as relu(y) - relu(y - 1): ONNX Clip becomes Maximum +
                # Minimum in TF.js, which its wasm backend ran at ~190 ms each on a 1024x1024 RGB
                # output (half of the upscaler's time); Relu and Sub cost a few ms
                return torch.relu(y) - torch.relu(y - 1.0)

        return ImageHead(model).eval()

    def raw_from_exported(self, y):
        """The output image in [0, 1] (the head's ``y * 0.5 + 0.5``, clamped) -> [-1, 1]."""
        import torch
        return [torch.as_tensor(y, dtype=torch.float32) * 2.0 - 1.0]
