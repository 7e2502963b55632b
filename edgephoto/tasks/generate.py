"""Art generation: a seed in, 64x64 paintings out (DCGAN / WGAN-GP); 256 and 1024 by chaining the 4x upscaler.

Data: a folder of art in ArtBench-10's layout, ``<split>/<style>/*.{jpg,png}`` (every image under
``<split>/`` is used; styles are folder names). The built-in default (``data/real_art.py``) cuts
crops from the paintings and painted art in the Debian packages that ``make fetch`` gets (a few
hundred artworks: far less than ArtBench's 60,000, as the model card says), else procedural art
(``data/procedural_art.py``).

Training: the ``wgan_gp`` recipe (critic ``wgan_critic_lite``: gradient penalty 10, n_critic 5;
the trainer's steps count critic updates) for the teacher and the student alone; ``dcgan`` is the
document's other recipe (``train --recipe dcgan``, critic ``dcgan_d_lite``). Distillation: the
student generator regresses on the teacher's image for the same latent (L1; no ground truth exists
for a latent, so alpha and T are ignored).
Quality (per checkpoint, and in the bench): the mode-collapse detector of ``metrics.generation_metrics``
(sample diversity against real art's, near-duplicate pairs, distance to the nearest training
image), and KID (``gen_metrics``; Inception features from a file the user gives, else features of a
network trained here, labelled as not comparable to published FID).
Inference: mode ``sample``; the runtime draws latents from a seed (``runtime/latent.py``);
``runtime/pipeline.py`` chains the generator with the upscaler for 256 and 1024 px.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from . import TASKS
from .base import Task
from ..metrics import generation_metrics
from ..runtime.spec import InferenceSpec, InputSpec, ModelSpec, OutputSpec

LATENT = 128
EVAL_SAMPLES = 100          # what one generation run may produce (the document's limit)
EVAL_SEED = 0
TRAIN_REFERENCE = 500       # training images the memorisation check compares with


class GenerateTask(Task):
    def builtin_sources(self):
        from ..data import procedural_art, real_art
        return {"real": real_art, "procedural": procedural_art}

    # ---- data
    def art_images(self, root, split: str) -> List[Path]:
        """Every image under ``<root>/<split>/`` (style folders at any depth)."""
        from ..data.folders import IMAGE_SUFFIXES, DatasetError
        d = Path(root) / split
        if not d.is_dir():
            raise DatasetError(f"no split folder {d} (run `edgephoto data --task {self.name}` or pass --data "
                               f"with <split>/<style>/ folders of art)")
        paths = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise DatasetError(f"no images under {d}")
        return paths

    def dataset(self, root, split, size, train):
        from ..data.torch_datasets import LatentImageDataset
        return LatentImageDataset(self.art_images(root, split), size, int(self.spec.input.latent_dim),
                                  augment=train)

    def eval_pairs(self, root, split):
        """Generation has no input per image: (image, image) pairs of the split's real art."""
        return [(p, p) for p in self.art_images(root, split)]

    def load_target(self, path, size=None):
        from ..data.folders import load_rgb
        side = self.output_side
        return load_rgb(path, (side, side))

    @property
    def output_side(self) -> int:
        return int(self.spec.output.size[0])

    # ---- losses
    def loss(self, raw, target):
        from ..errors import UserError
        raise UserError("a generator has no supervised loss: train it with its GAN recipe (wgan_gp or "
                        "dcgan) or distill it from a teacher")

    def distill_loss(self, student_raw, teacher_raw, target, temperature=1.0, alpha=0.5, hint_weight=0.0):
        """L1 between the student's and the teacher's image for the same latent."""
        import torch.nn.functional as F
        return F.l1_loss(self.outputs(student_raw)[0], self.outputs(teacher_raw)[0])

    def export_module(self, model):
        import torch

        class GeneratorHead(torch.nn.Module):
            """latent N x D -> RGB N x 3 x 64 x 64 in [0, 1] (tanh's [-1, 1] mapped, clamped)."""

            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, z):
                y = self.net(z) * 0.5 + 0.5
                return torch.relu(y) - torch.relu(y - 1.0)

        return GeneratorHead(model).eval()

    def raw_from_exported(self, y):
        import torch
        return [torch.as_tensor(y, dtype=torch.float32) * 2.0 - 1.0]

    # ---- evaluation: the collapse detector on EVAL_SAMPLES samples of seed EVAL_SEED
    def sample_images(self, head, n: int = EVAL_SAMPLES, seed: int = EVAL_SEED) -> List[np.ndarray]:
        """The export module's images for ``n`` latents of ``seed`` (the runtime's latents), uint8."""
        import torch
        from ..runtime.latent import latents
        z = torch.from_numpy(latents(seed, n, int(self.spec.input.latent_dim)))
        with torch.no_grad():
            y = head(z).permute(0, 2, 3, 1).numpy()
        return [(im * 255.0 + 0.5).astype(np.uint8) for im in y]

    def evaluate_model(self, model, data_root, split: str = "val", size=None, limit=None) -> Dict[str, float]:
        """Per checkpoint: the collapse detector (and KID when ``gen_metrics`` is available) of
        ``EVAL_SAMPLES`` samples against the split's real art and the training art."""
        was_training = model.training
        model.eval()
        try:
            samples = self.sample_images(self.export_module(model))
        finally:
            model.train(was_training)
        return self.sample_metrics(samples, data_root, split, limit)

    def sample_metrics(self, samples, data_root, split: str = "test", limit=None) -> Dict[str, float]:
        real = [self.load_target(p) for p, _ in self.eval_pairs(data_root, split)[:limit or None]]
        train_paths = self.art_images(data_root, "train")
        if len(train_paths) > TRAIN_REFERENCE:
            idx = np.linspace(0, len(train_paths) - 1, TRAIN_REFERENCE).round().astype(int)
            train_paths = [train_paths[i] for i in idx]
        out = generation_metrics(samples, real, [self.load_target(p) for p in train_paths])
        out.update(self.kid_metrics(samples, real))
        out["images"] = len(samples)
        out["split"] = split
        return out

    def kid_metrics(self, samples, real) -> Dict[str, float]:
        """KID of the samples against real art, on the feature network ``gen_metrics`` loads
        (none installed: {})."""
        from ..gen_metrics import kid, kid_report
        out = kid_report(samples, real)
        if not out:   # no feature network at all: KID on the collapse detector's thumbnails
            from ..metrics import thumbnails
            m, s = kid(thumbnails(real), thumbnails(samples), subsets=50)
            out = {"kid": m, "kid_std": s, "kid_features": "thumbnails-16px", "kid_comparable": 0.0}
        return out

    @staticmethod
    def selection_penalty(metrics: Dict[str, float]) -> float:
        """Selection prefers a variant that neither collapses nor memorises (then the best KID);
        among collapsed ones, the more diverse (KID can favour a collapse onto a typical image)."""
        collapsed = float(metrics.get("collapsed", 0.0))
        spread = 1.0 - min(float(metrics.get("diversity_ratio", 0.0)), 1.0)
        return collapsed * (1.0 + spread) + float(metrics.get("memorising", 0.0))

    def after_export(self, dist: Path, data: Path) -> None:
        """The pipelines of 64, 256 and 1024 px (``edgephoto chain``); the upscaler's data is
        ``upscale/`` beside this task's data folder (``data/upscale`` for ``data/generate``)."""
        from ..export.chain import write_generator_pipelines
        write_generator_pipelines(Path(dist), Path(data).resolve().parent / "upscale")

    def metrics(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
        out = generation_metrics(list(preds), list(targets))
        out.update(self.kid_metrics(list(preds), list(targets)))
        return out


TASKS.register("generate", GenerateTask(
    name="generate",
    description="art generation: seed -> 64x64 paintings (WGAN-GP); 256 / 1024 through the 4x upscaler",
    # the published DCGAN generator (3.6 M params at latent 100) on this task's latent of 128: teacher and
    # student must read the same latent, and distillation feeds both the same one
    teacher_arch="dcgan_g_l128",
    student_arch="dcgan_g_lite",     # ngf 32: a third of the parameters, a quarter of the compute
    spec=ModelSpec(
        input=InputSpec(kind="latent", layout="NC", latent_dim=LATENT, name="latent", mean=(0.0,), std=(1.0,)),
        output=OutputSpec(kind="image", name="image", range=(0.0, 1.0), channels=3, size=(64, 64),
                          meaning="a generated 64x64 painting, RGB"),
        inference=InferenceSpec(mode="sample")),
    distill_temperatures=(1.0,),
    primary_metric="kid",           # on artfeat's features unless EDGEPHOTO_INCEPTION names the FID file
    budgets={
        "ship_format": "onnx_fp32",
        "shipped_size_mb": 20.0,
        # a run of generate_images at generate_side px, the chain (generator + upscalers) included, 1 thread
        "generate_images": EVAL_SAMPLES, "generate_side": 256, "generate_s": 25.0,
        "peak_mem_mb": 600,
    },
    teacher_recipe="wgan_gp",
    student_recipe="wgan_gp",
    adversarial={"discriminator": "wgan_critic_lite", "n_critic": 5, "gp_weight": 10.0},
    report_metrics=("diversity_ratio", "memorisation_ratio", "kid"),
    card_data="procedural art (shapes, stripes and brushed gradients) at 128x128, resized to 64",
    card_data_real="crops of the paintings and painted art in Debian packages (gcompris-qt-data's old masters "
                   "and Japanese prints, wesnoth's painted portraits and landscapes): a few hundred artworks, "
                   "against ArtBench-10's 60,000",
    card_caveat="trained on a few hundred artworks on 2 CPU cores: samples are painterly textures and "
                "colour layouts more than recognisable subjects. Checked for mode collapse and memorisation "
                "per checkpoint (README).",
    card_reproduce="make fetch                                   # includes the art sources (gcompris-art, wesnoth-art)\n"
                   "edgephoto data --task generate --out data/generate-real --train 3000 --val 100 --test 200\n"
                   "edgephoto train --task generate --role student --profile starter --steps 6000 --batch 32 \\\n"
                   "    --eval-every 500 --data data/generate-real --runs starter_runs --threads 1   # WGAN-GP\n"
                   "python -m edgephoto.weights.publish starter_runs/generate/student/ckpt.pt --task generate \\\n"
                   "    --data data/generate-real",
    profiles={
        "smoke": {r: dict(size=64, batch=4) for r in ("teacher", "student", "distill")},
        "demo": {"teacher": dict(steps=100, batch=16, lr=2e-4, size=64),
                 "student": dict(steps=300, batch=32, lr=2e-4, size=64),
                 "distill": dict(steps=150, batch=32, lr=2e-4, size=64)},
        "starter": {"teacher": dict(steps=20000, batch=64, lr=1e-4, size=64),
                    "student": dict(steps=20000, batch=64, lr=1e-4, size=64),
                    "distill": dict(steps=3000, batch=64, lr=2e-4, size=64)},
        "paper": {"teacher": dict(steps=100000, batch=64, lr=1e-4, size=64),
                  "student": dict(steps=100000, batch=64, lr=1e-4, size=64),
                  "distill": dict(steps=10000, batch=64, lr=1e-4, size=64)},
    },
))
