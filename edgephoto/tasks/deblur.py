"""Deblurring: a blurred photo in, the sharp photo out (pix2pix U-Net teacher).

Data: paired folders matched by stem, ``<split>/blurred/*`` and ``<split>/sharp/*``; the built-in
default blurs crops of the fetched real photos (``data/real_deblur.py``), else generated content
(``data/synthetic_deblur.py``), with a 14x14 box (the document's), motion or defocus kernel plus
sensor noise per sample, recorded in ``<split>/blur.json``. Images are in [-1, 1] (mean 0.5, std 0.5).

Losses: teacher = pix2pix (``pix2pix`` recipe: a 70x70 PatchGAN on (input, output), GAN + 100 x L1);
student alone = L1; distillation = ``alpha * L1(student, sharp) + (1 - alpha) * L1(student,
teacher)`` (a regression output: T is ignored).
Metrics: PSNR and SSIM (plus L1, CIEDE2000) against the sharp image; classical rows: the blurred
input unchanged (identity) and unsharp masking.
Inference: fully convolutional, exported at 256x256 and run in overlapping tiles at full resolution.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from . import TASKS
from .image_task import ImageTask
from ..metrics import image_metrics
from ..runtime.spec import InferenceSpec, InputSpec, ModelSpec, OutputSpec


class DeblurTask(ImageTask):
    def builtin_sources(self):
        from ..data import real_deblur, synthetic_deblur
        return {"real": real_deblur, "generated": synthetic_deblur}

    def dataset(self, root, split, size, train):
        from ..data.torch_datasets import ImagePairDataset
        return ImagePairDataset(self.pair_folder(root, split), size, self.spec.input, augment=train)

    def predict_for_eval(self, head, rgb_u8, size, target_shape):
        """Fully convolutional: the whole image, padded (reflect) to the network's multiple."""
        import torch
        m = int(getattr(head.net, "multiple", 1))
        h, w = rgb_u8.shape[:2]
        ph, pw = (-h) % m, (-w) % m
        x = np.pad(rgb_u8, ((0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else rgb_u8
        with torch.no_grad():
            y = head(self.model_input(np.ascontiguousarray(x)))[0].permute(1, 2, 0).numpy()
        return y[:h, :w]

    group_label = "blur type"

    def sample_groups(self, root, split):
        """The blur each test sample got (``<split>/blur.json``: box14 / motion / defocus)."""
        import json
        from pathlib import Path
        f = Path(root) / split / "blur.json"
        try:
            return {str(k): str(v) for k, v in json.loads(f.read_text()).items()} if f.is_file() else {}
        except (OSError, ValueError):
            return {}

    def classical_methods(self):
        return {"identity": (self.identity, "the blurred input returned unchanged"),
                "unsharp-mask": (self.unsharp, "Pillow's UnsharpMask(radius 2, 150%, threshold 3), no network")}

    @staticmethod
    def identity(rgb_u8):
        return rgb_u8.astype(np.float32) / 255.0

    @staticmethod
    def unsharp(rgb_u8):
        from PIL import Image, ImageFilter
        out = Image.fromarray(rgb_u8).filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3))
        return np.asarray(out).astype(np.float32) / 255.0

    def metrics(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
        return image_metrics(preds, targets)


TASKS.register("deblur", DeblurTask(
    name="deblur",
    description="deblurring: blurred photo (box, motion, defocus; noise) -> sharp photo",
    teacher_arch="pix2pix_unet256_lite",
    student_arch="resunet_s",
    spec=ModelSpec(
        input=InputSpec(size=(256, 256), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), multiple_of=32),
        output=OutputSpec(kind="image", name="sharp", range=(0.0, 1.0), channels=3,
                          meaning="the sharpened photo, RGB"),
        inference=InferenceSpec(mode="tile", tile=(256, 256), overlap=(32, 32))),
    distill_temperatures=(1.0,),   # the distillation loss ignores T: one run
    primary_metric="psnr",
    budgets={
        # fp16 TFLite: 1.77 MB, 1.7 s for 1024x1024 on 1 thread, no PSNR lost; full int8 (0.93-0.96 MB,
        # onnxruntime 0.7 s) loses 0.4-0.5 dB on the parity tiles (measured 2026-12-01)
        "ship_format": "tflite_fp16",
        "shipped_size_mb": 5.0,
        "latency_1024_s": 2.5,          # a 1024x1024 photo end to end, 1 thread
        "int8_quality_rel_loss": 0.05,  # the shipped artifact may lose at most 5% of the PSNR of its fp32 source
        "peak_mem_mb": 600,
    },
    data_layout={"inputs": "blurred", "targets": "sharp"},
    teacher_recipe="pix2pix",
    adversarial={"discriminator": "patchgan70_lite", "gan_weight": 1.0, "fm_weight": 0.0, "l1_weight": 100.0},
    report_metrics=("psnr", "ssim"),
    card_data="generated content (scikit-image photos and product scenes) blurred by a 14x14 box, "
              "motion or defocus kernel plus sensor noise",
    card_data_real="256x256 crops of real photographs blurred by a 14x14 box, motion or defocus kernel plus "
                   "sensor noise, one per sample (recorded in blur.json); split by source photo",
    card_caveat="trained on synthetic blur kernels, uniform over the image: spatially varying blur (a "
                "moving subject, depth of field) is outside what it has seen. Motion blur gains least (about "
                "+1 dB; lines up to 25 px at any angle), box-14 and defocus most (+3 to +3.7 dB). Not "
                "distilled: the pix2pix teacher (the quarter-width U-Net, GAN + 100 x L1) trained 1,500 steps "
                "on 2 CPU cores scored below the blurred input itself (23.72 dB against 25.93 on the test "
                "split), so the student is trained alone on L1; a longer-trained teacher (a GPU) is needed "
                "before distillation helps.",
    card_reproduce="make fetch                                   # real photos (cached in sources/)\n"
                   "edgephoto data --task deblur --out data/deblur-real6k --train 6000 --val 50\n"
                   "edgephoto train --task deblur --role student --profile starter --data data/deblur-real6k \\\n"
                   "    --runs starter_runs --threads 1          # resunet_s, L1: 9000 steps, batch 8, 128 px (76 min)\n"
                   "python -m edgephoto.weights.publish starter_runs/deblur/student/ckpt.pt --task deblur \\\n"
                   "    --data data/deblur-real6k",
    profiles={
        "smoke": {"teacher": dict(size=256), "student": dict(size=64), "distill": dict(size=64)},
        "demo": {"teacher": dict(steps=100, batch=2, lr=2e-4, size=256),
                 "student": dict(steps=300, batch=8, lr=1e-3, size=96),
                 "distill": dict(steps=150, batch=8, lr=2e-3, size=96)},
        "starter": {"teacher": dict(steps=1500, batch=2, lr=2e-4, size=256),
                    "student": dict(steps=9000, batch=8, lr=1e-3, size=128),
                    "distill": dict(steps=9000, batch=8, lr=1e-3, size=128)},
        "paper": {"teacher": dict(steps=200000, batch=1, lr=2e-4, size=256, arch="pix2pix_unet256"),
                  "student": dict(steps=200000, batch=1, lr=2e-4, size=256),
                  "distill": dict(steps=200000, batch=1, lr=2e-4, size=256)},
    },
))
