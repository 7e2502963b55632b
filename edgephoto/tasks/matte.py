"""Background removal: a salient-object mask (U2-Net teacher, U2-Netp-style student).

Data: DUTS layout (``<split>/images/*.jpg`` + ``<split>/masks/*.png``, matched by stem). The built-in
default is made of real cut-outs on real photos (``edgephoto.data.real_matte``) when ``edgephoto
fetch`` has filled the cache, and generated scenes (``edgephoto.data.synthetic_matte``) otherwise.
Loss: BCE over the fused output and the six side outputs (U2-Net's deep supervision), plus the
mean absolute error of the fused probability (the metric itself: BCE alone leaves the mask hedging
at 0.3-0.6 where the net is unsure, which MAE punishes).
Distillation: temperature-softened BCE against the teacher's sigmoid(logits / T), scaled by T^2,
mixed with the ground-truth loss by ``alpha``; optional hints on the six side outputs.
Metrics: MAE, max F-measure (beta^2 = 0.3) and IoU at 0.5, at the ground truth's resolution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from . import TASKS
from .base import Task
from ..runtime.spec import InferenceSpec, InputSpec, ModelSpec, OutputSpec

from ..metrics import BETA2, mask_metrics  # noqa: F401  (torch-free; the bench uses it too)


class MatteTask(Task):
    # weight of the MAE term next to the seven BCE terms
    mae_weight = 1.0

    def builtin_sources(self):
        from ..data import real_matte, synthetic_matte
        return {"real": real_matte, "generated": synthetic_matte}

    def dataset(self, root, split, size, train):
        from ..data.torch_datasets import MaskDataset
        return MaskDataset(self.pair_folder(root, split), size, self.spec.input, augment=train)

    def load_target(self, path, size=None):
        from ..data.folders import load_gray
        return load_gray(path, size)

    # ---- losses
    def loss(self, raw, target):
        import torch.nn.functional as F
        import torch
        outs = self.outputs(raw)
        bce = sum(F.binary_cross_entropy_with_logits(o, target) for o in outs)
        return bce + self.mae_weight * (torch.sigmoid(outs[0]) - target).abs().mean()

    def distill_loss(self, student_raw, teacher_raw, target, temperature=2.0, alpha=0.5,
                     hint_weight=0.0):
        import torch
        import torch.nn.functional as F
        s, t = self.outputs(student_raw), self.outputs(teacher_raw)
        T = float(temperature)

        def soft(zs, zt):
            return F.binary_cross_entropy_with_logits(zs / T, torch.sigmoid(zt / T)) * T * T

        kd = soft(s[0], t[0])
        if hint_weight > 0:
            kd = kd + hint_weight * sum(soft(a, b) for a, b in zip(s[1:], t[1:]))
        hard = self.loss(student_raw, target)
        return alpha * hard + (1 - alpha) * kd

    def export_module(self, model):
        import torch

        class MaskHead(torch.nn.Module):
            """normalized image -> mask probability (fused output only)."""

            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                return torch.sigmoid(self.net(x)[0])

        return MaskHead(model).eval()

    def logit_layer(self, model):
        """U2-Net's fused logits come from its 1x1 ``fuse`` conv (output calibration folds into it)."""
        return model.fuse

    def raw_from_exported(self, y):
        """Mask probabilities (the export head's sigmoid) -> logits ``log(p / (1 - p))``, p clamped
        to [1e-4, 1 - 1e-4], so that ``sigmoid(z / T)`` softens them at temperature T."""
        import torch
        p = torch.as_tensor(y, dtype=torch.float32).clamp(1e-4, 1.0 - 1e-4)
        return [torch.log(p / (1.0 - p))]

    # ---- metrics
    def metrics(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
        return mask_metrics(preds, targets)


TASKS.register("matte", MatteTask(
    name="matte",
    description="background removal: salient-object mask -> RGBA cut-out",
    teacher_arch="u2net_lite",
    student_arch="u2net_tiny",
    spec=ModelSpec(
        # trains at 192 px (the starter: 224); the starter ships at 256 (its checkpoint says so):
        # 1024 px end to end ~0.065 s int8, 1 thread
        input=InputSpec(size=(192, 192), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
        output=OutputSpec(kind="alpha", name="mask", range=(0.0, 1.0), channels=1,
                          meaning="probability that the pixel belongs to the foreground object"),
        inference=InferenceSpec(mode="resize", resample="bilinear")),
    primary_metric="mae",
    budgets={
        "ship_format": "tflite_int8",   # the shipped artifact a device runs (shipped variant, this format)
        "shipped_size_mb": 1.5,         # at most 1/3 of the published U2-Netp's 4.57 MB
        "latency_1024_s": 0.15,         # a 1024x1024 photo end to end (decode..composite), 1 thread
        "int8_quality_rel_loss": 0.10,  # int8 may lose at most 10% of the MAE of its fp32 source
        "peak_mem_mb": 300,             # runtime peak RSS on a 1024x1024 photo (shipped variant)
    },
    data_layout={"inputs": "images", "targets": "masks"},
    report_metrics=("mae", "max_f"),
    # the demo trains at 128 px: U2-Net's full-resolution stages make 160 px 1.5x slower per step
    profiles={"demo": {r: dict(size=128) for r in ("teacher", "student", "distill")}},
    card_data="procedural scenes whose masks are exact",
    card_data_real="1-3 real cut-outs (soft alpha) composited on crops of real photographs, with "
                   "scale, off-frame placement, occlusion, colour harmonisation, shadows, defocus and "
                   "noise; plus real photos labelled by the imported U2-Netp where it is confident; split "
                   "by source file",
    card_caveat="the cut-outs are objects and animals, never people, so a portrait whose subject fills the "
                "frame looks like background to it (on skimage's astronaut it removes the astronaut); it "
                "beats the published U2-Netp on MAE on the real test split, narrowly, and not on max F-measure "
                "(see the README's Results). "
                "Fine-tune on DUTS for real use (README, *Your own dataset*).",
    card_reproduce="make fetch                                   # real photos + cut-outs (cached in sources/)\n"
                   "edgephoto import sources/models/u2netp/u2netp.onnx --task matte --name u2netp\n"
                   "edgephoto data --task matte --out data/matte-real --train 6000 \\\n"
                   "    --pseudo-labels dist/matte/u2netp/onnx_fp32\n"
                   "# start: the 2026-11-22 starter (f8aff2b; it was the generated-scene starter of 4fabfc3\n"
                   "# trained 6,000 steps at 192 px on the real composites of then, BCE only, then calibrated)\n"
                   "git show f8aff2b:edgephoto/weights/matte-student.pt > prev.pt\n"
                   "edgephoto train --task matte --role student --profile starter --data data/matte-real \\\n"
                   "    --runs real_runs --out real_runs/matte/student-ft2 --size 224 --batch 8 --lr 5e-4 \\\n"
                   "    --steps 2800 --init prev.pt --threads 1      # ~55 min on one core\n"
                   "# output calibration on the val split at the size it ships at: 256 px (val MAE 0.0484;\n"
                   "# 224: 0.0497, 288: 0.0515)\n"
                   "python -m edgephoto.train.calibrate real_runs/matte/student-ft2/ckpt.pt --task matte \\\n"
                   "    --data data/matte-real --size 256 --out real_runs/matte/calibrated-256/ckpt.pt\n"
                   "python -m edgephoto.weights.publish real_runs/matte/calibrated-256/ckpt.pt --task matte \\\n"
                   "    --data data/matte-real --size 256",
    compression_rows=(
        ("U2-Net big (teacher fp32)", "teacher", "onnx_fp32", "157 MB", 0.009145),
        ("U2-Net small (student trained alone, fp32)", "student", "onnx_fp32", "9.8 MB", 0.011567),
        ("big + post-training quantization (teacher int8)", "teacher", "onnx_int8", "41.4 MB", 0.009451),
        ("distilled from big, T = 2 (fp32)", "student-kd-t2", "onnx_fp32", "9.7 MB", 0.01676),
        ("distilled from big, T = 7 (fp32)", "student-kd-t7", "onnx_fp32", "9.7 MB", 0.01789),
    ),
))
