"""4x super-resolution: a photo in, the same photo four times larger out (SRGAN teacher).

Data: DIV2K-like folders, ``<split>/hr/*`` (high resolution) and, for val/test, ``<split>/lr/*``
matched by stem (made from ``hr`` by bicubic /4 when absent: one line says so). Training reads only
``hr`` and makes LR on the fly (``data/torch_datasets.SRDataset``: random crops, flips, rotations,
the degradation named in ``<data>/degradation.txt``: ``bicubic`` by default or ``realistic`` blur +
noise + JPEG, see ``data/sr_degrade.py``). The built-in default is cut from the fetched real photos
(``data/real_upscale.py``), else from generated content (``data/synthetic_upscale.py``).
Images are in [-1, 1] (mean 0.5, std 0.5).

Losses: teacher = SRGAN (``srgan`` recipe: L1 content + least-squares adversarial from an image
discriminator); student alone = L1; distillation = ``alpha * L1(student, HR) + (1 - alpha) *
L1(student, teacher)`` (a regression output has no temperature to soften: T is ignored).
Metrics: PSNR-Y and SSIM-Y with 4 border pixels cropped (the SR literature's convention) and RGB
PSNR, against the HR image; the classical row is bicubic x4.
Inference: fully convolutional, exported at 256x256 LR input (1024x1024 output) and run in
overlapping tiles whose offsets and blend are scaled x4 (``output.scale``); outputs are at most
4096 px a side, so inputs larger than 1024 px are refused (or ``--downscale``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from . import TASKS
from .image_task import ImageTask
from ..metrics import sr_metrics
from ..runtime.spec import InferenceSpec, InputSpec, ModelSpec, OutputSpec

SCALE = 4
DEGRADATION_FILE = "degradation.txt"


class UpscaleTask(ImageTask):
    def builtin_sources(self):
        from ..data import real_upscale, synthetic_upscale
        return {"real": real_upscale, "generated": synthetic_upscale}

    def dataset(self, root, split, size, train):
        from ..data.folders import DatasetError, list_images
        from ..data.torch_datasets import SRDataset
        hr_dir = Path(root) / split / self.data_layout["targets"]
        paths = list_images(hr_dir) if hr_dir.is_dir() else []
        if not paths:
            raise DatasetError(f"no high-resolution images in {hr_dir} (run `edgephoto data --task "
                               f"{self.name}` or pass --data with a <split>/hr folder)")
        deg_file = Path(root) / DEGRADATION_FILE
        degradation = deg_file.read_text().strip() if deg_file.is_file() else "bicubic"
        return SRDataset(paths, size, SCALE, self.spec.input, degradation)

    def eval_pairs(self, root, split):
        self._ensure_lr(Path(root) / split)
        return super().eval_pairs(root, split)

    def _ensure_lr(self, split_dir: Path) -> None:
        """A user's split with ``hr`` only gets its bicubic /4 ``lr`` (once; one line says so)."""
        from PIL import Image

        from ..data.folders import list_images
        from ..data.sr_degrade import bicubic, crop_to_multiple
        hr_dir, lr_dir = split_dir / self.data_layout["targets"], split_dir / self.data_layout["inputs"]
        if lr_dir.is_dir() or not hr_dir.is_dir():
            return
        paths = list_images(hr_dir)
        print(f"[{self.name}] {lr_dir} missing: writing the bicubic /{SCALE} of {len(paths)} image(s) "
              f"in {hr_dir}", flush=True)
        tmp = lr_dir.with_name(f".{lr_dir.name}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for p in paths:
            with Image.open(p) as im:
                hr = crop_to_multiple(np.asarray(im.convert("RGB")), SCALE)
            Image.fromarray(bicubic(hr, SCALE, np.random.default_rng(0))).save(tmp / f"{p.stem}.png")
        tmp.rename(lr_dir)

    def predict_for_eval(self, head, rgb_u8, size, target_shape):
        """Fully convolutional: the whole LR image in, its 4x out (resized if the target differs)."""
        import torch

        from ..runtime.model import resize_map
        with torch.no_grad():
            y = head(self.model_input(rgb_u8))[0].permute(1, 2, 0).numpy()
        return resize_map(y, tuple(target_shape[:2]))

    # the classical baseline: bicubic x4 (what an image viewer does)
    classical_name = "bicubic"
    classical_note = "Pillow's bicubic x4 of the low-resolution input (no network)"

    def classical(self, rgb_u8):
        from PIL import Image
        h, w = rgb_u8.shape[:2]
        up = Image.fromarray(rgb_u8).resize((w * SCALE, h * SCALE), Image.BICUBIC)
        return np.asarray(up).astype(np.float32) / 255.0

    def metrics(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
        return sr_metrics(preds, targets, border=SCALE)


TASKS.register("upscale", UpscaleTask(
    name="upscale",
    description="4x super-resolution: photo -> the same photo 4x larger",
    teacher_arch="srgan_g_lite",
    student_arch="srvgg_s",
    spec=ModelSpec(
        # mean 128/255, not 0.5: pixels land on the uint8 grid of the int8 input (compress.quantize.pixel_grid)
        input=InputSpec(size=(256, 256), mean=(128 / 255,) * 3, std=(0.5, 0.5, 0.5)),
        output=OutputSpec(kind="image", name="upscaled", range=(0.0, 1.0), channels=3, scale=SCALE,
                          meaning="the photo at 4x the resolution, RGB"),
        inference=InferenceSpec(mode="tile", tile=(256, 256), overlap=(16, 16))),
    distill_temperatures=(1.0,),   # the distillation loss ignores T: one run
    primary_metric="psnr_y",
    budgets={
        # full int8 ONNX: 0.14 MB, 0.12 s for 256 -> 1024 on 1 thread, PSNR-Y bicubic + 1.08 dB on the real
        # test split (fp32: + 1.59). Two fixes made int8 fit: calibration on native-resolution tiles
        # (runtime.model.model_window) and the input on the uint8 pixel grid (mean 128/255)
        "ship_format": "onnx_int8",
        "shipped_size_mb": 1.0,
        "latency_1024_s": 0.5,          # the bench photo: 256x256 in, 1024x1024 out, 1 thread
        "int8_quality_rel_loss": 0.05,  # int8 may lose at most 5% of the PSNR-Y of its fp32 source
        "peak_mem_mb": 600,
    },
    bench_side=256,
    data_layout={"inputs": "lr", "targets": "hr"},
    teacher_recipe="srgan",
    adversarial={"discriminator": "srgan_d_lite", "gan_weight": 1e-3, "l1_weight": 1.0},
    report_metrics=("psnr_y", "ssim_y"),
    card_data="bicubic /4 of 256x256 crops of generated content (scikit-image photos and product scenes)",
    card_data_real="bicubic /4 of 256x256 crops of real photographs at their decoded resolution; split by "
                   "source photo",
    card_caveat="trained for bicubic /4 inputs: a blurred, noisy or JPEG-compressed photo needs the "
                "`realistic` degradation (data/sr_degrade.py) at training time. Not distilled: the SRGAN "
                "teacher (`srgan_g_lite`, L1 + adversarial) trained here on 2 CPU cores for 600 steps scored "
                "PSNR-Y 26.9 dB on the val split, below bicubic's 30.1 dB (the published SRGAN has no "
                "bicubic skip and needs ~10^5 steps), so distilling from it would pull the student below "
                "its own bicubic base; `make train compress TASK=upscale` distills once a teacher is trained "
                "longer (a GPU). The imported esrgan-slim is no better a teacher for PSNR (it scores below "
                "bicubic too, see the README's Results).",
    card_reproduce="make fetch                                   # real photos (cached in sources/)\n"
                   "edgephoto data --task upscale --out data/upscale-real6k --train 6000 --val 50\n"
                   "edgephoto train --task upscale --role student --profile starter --data data/upscale-real6k \\\n"
                   "    --runs starter_runs --threads 1 --steps 6000 --init PREVIOUS_STARTER.pt\n"
                   "#   PREVIOUS_STARTER.pt: the 2026-11-22 starter (git show 6ca08dd:edgephoto/weights/upscale-student.pt),\n"
                   "#   3000 steps from scratch at mean 0.5; this run re-normalizes it to mean 128/255\n"
                   "python -m edgephoto.weights.publish starter_runs/upscale/student/ckpt.pt --task upscale \\\n"
                   "    --data data/upscale-real6k",
    profiles={
        "smoke": {r: dict(size=16) for r in ("teacher", "student", "distill")},
        "demo": {"teacher": dict(steps=150, batch=8, lr=5e-4, size=32),
                 "student": dict(steps=300, batch=16, lr=2e-3, size=32),
                 "distill": dict(steps=150, batch=16, lr=2e-3, size=32)},
        "starter": {"teacher": dict(steps=2000, batch=8, lr=2e-4, size=48),
                    "student": dict(steps=3000, batch=16, lr=1e-3, size=48),
                    "distill": dict(steps=3000, batch=16, lr=1e-3, size=48)},
        "paper": {"teacher": dict(steps=200000, batch=16, lr=1e-4, size=24, arch="srgan_g"),
                  "student": dict(steps=200000, batch=16, lr=1e-4, size=24, arch="srvgg_m"),
                  "distill": dict(steps=200000, batch=16, lr=1e-4, size=24, arch="srvgg_m")},
    },
))
