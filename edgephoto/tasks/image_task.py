"""``ImageTask``: the shared half of the image-to-image tasks (retouch, deblur, upscale).

Input and target images are normalized alike, by the spec's ``input.mean`` / ``input.std``
(``runtime.model.normalize``; [-1, 1] for mean 0.5, std 0.5); the model's loss is L1 to the target;
distillation regresses on the teacher's image as well (``alpha * L1(student, target) + (1 - alpha) *
L1(student, teacher)``; a task whose outputs can be softened by a temperature overrides it, as
retouch does); the export head undoes the normalization (``y * std + mean``) to [0, 1] RGB.
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

    def _norm_tensors(self):
        import torch
        mean = torch.tensor(self.spec.input.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.spec.input.std, dtype=torch.float32).view(1, -1, 1, 1)
        return mean, std

    def export_module(self, model):
        import torch
        mean, std = self._norm_tensors()

        class ImageHead(torch.nn.Module):
            """normalized image (the input's value space) -> the task's output image, RGB in [0, 1]."""

            def __init__(self, net):
                super().__init__()
                self.net = net
                self.register_buffer("mean", mean, persistent=False)
                self.register_buffer("std", std, persistent=False)

            def forward(self, x):
                y = self.net(x) * self.std + self.mean
                # clamp(y, 0, 1) written as relu(y) - relu(y - 1): ONNX Clip becomes Maximum +
                # Minimum in TF.js, which its wasm backend ran at ~190 ms each on a 1024x1024 RGB
                # output (half of the upscaler's time); Relu and Sub cost a few ms
                return torch.relu(y) - torch.relu(y - 1.0)

        return ImageHead(model).eval()

    def raw_from_exported(self, y):
        """The output image in [0, 1] (the head's ``y * std + mean``, clamped) -> the normalized space."""
        import torch
        mean, std = self._norm_tensors()
        return [(torch.as_tensor(y, dtype=torch.float32) - mean) / std]
