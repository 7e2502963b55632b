"""The ``Task`` interface shared by every stage. See ``matte.py`` for the first implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..runtime.spec import ModelSpec


@dataclass
class Task:
    name: str
    description: str
    teacher_arch: str                 # what `train` builds as the teacher
    student_arch: str                 # what `train` / `compress` build as the student
    # the model contract (edgephoto/runtime/spec.py): input, output, inference mode. Its input size
    # is the exported models' default; export writes the manifest from it
    spec: ModelSpec
    # the number the compression table and selection use; its direction is in metrics.METRIC_INFO
    primary_metric: str = "mae"
    data_layout: Dict[str, str] = field(default_factory=dict)  # sub-folder names of a split
    # `compress` distills once per temperature (T softens class-like outputs: masks, pixel values
    # squashed toward mid-grey); a task whose distillation loss ignores T needs one run
    distill_temperatures: Sequence[float] = (2.0, 7.0)
    # the teacher's training recipe (edgephoto/train/recipes.py), e.g. "pix2pix" for a GAN teacher
    teacher_recipe: str = "supervised"
    # the student's recipe when trained alone (a generator has no supervised loss: its GAN recipe)
    student_recipe: str = "supervised"
    # the GAN recipes' settings: {"discriminator": arch, "gan_weight", "fm_weight", "l1_weight"}
    adversarial: Optional[Dict[str, Any]] = None
    # the teacher's training phases as (phase, fraction of the steps), for models with set_phase()
    teacher_phases: Sequence[Tuple[str, float]] = ()
    # per-profile, per-role overrides of edgephoto/train/profiles.py, e.g. {"demo": {"teacher": {...}}}
    profiles: Dict[str, Dict[str, Dict[str, Any]]] = field(default_factory=dict)
    # the metrics the bench table shows (all are in its JSON); default: the primary metric
    report_metrics: Sequence[str] = ()
    # the document's compression table: (label, variant, format key, document size, document loss)
    compression_rows: Sequence[Tuple[str, str, str, str, Optional[float]]] = ()
    # the task's performance targets for the bench (edgephoto/bench/budgets.py; budgets.toml's
    # [tasks.<task>] overrides them): ship_format, shipped_size_mb, latency_1024_s, ...
    budgets: Dict[str, Any] = field(default_factory=dict)
    # side of the square photo the bench times (a 4x upscaler: 256, i.e. a 1024x1024 output)
    bench_side: int = 1024
    # model-card text for starter weights: what the built-in data is, and the known limits
    card_data: str = "the task's built-in generated pairs"
    card_data_real: str = "the task's built-in pairs made from fetched real photographs"
    card_caveat: str = "trained on the built-in data only."
    # the commands that reproduce the committed starter weights (default: make starter-weights)
    card_reproduce: str = ""

    # ---- the contract's parts, read-only (the spec is the one place they are set)
    @property
    def input_size(self) -> int:
        """Square side the exported models take by default."""
        return int(self.spec.input.hw[0])

    @property
    def mean(self) -> Sequence[float]:
        return self.spec.input.mean

    @property
    def std(self) -> Sequence[float]:
        return self.spec.input.std

    @property
    def input_context(self) -> Optional[Dict[str, Any]]:
        """Global context channels after the RGB ones (manifest input.context)."""
        return self.spec.input.context


    # ---- data
    def default_data_root(self) -> Path:
        return Path("data") / self.name

    def builtin_sources(self) -> Dict[str, Any]:
        """The task's built-in data recipes by name, best first: modules with ``generate(root, seed,
        sizes, progress)``, ``SPLIT_SIZES`` and (for recipes that need fetched files) ``available()``."""
        raise NotImplementedError

    def builtin_source(self, source: str = "auto"):
        """(name, module) of the recipe to use: ``auto`` = the first whose inputs are present."""
        recipes = self.builtin_sources()
        if source != "auto":
            if source not in recipes:
                from ..errors import UserError
                raise UserError(f"task {self.name} has no built-in data source {source!r}; "
                                f"choose from: auto, {', '.join(recipes)}")
            mod = recipes[source]
            if not getattr(mod, "available", lambda: True)():
                from ..errors import UserError
                raise UserError(f"built-in data source {source!r} needs the fetched real photos: "
                                f"run `make fetch` (or `edgephoto fetch`) first")
            return source, mod
        for name, mod in recipes.items():
            if getattr(mod, "available", lambda: True)():
                return name, mod
        name = list(recipes)[-1]
        return name, recipes[name]

    def generate_builtin(self, root: Path, seed: int = 0, sizes=None, progress=None,
                         source: str = "auto") -> Dict[str, int]:
        name, mod = self.builtin_source(source)
        return mod.generate(root, seed=seed, sizes=sizes, progress=progress)

    def dataset(self, root: Path, split: str, size: int, train: bool):
        """A torch Dataset yielding (input CHW float normalized, target tensor)."""
        raise NotImplementedError

    def pair_folder(self, root: Path, split: str):
        """The ``PairFolder`` of ``root/<split>/<inputs dir>`` + ``<targets dir>`` (``data_layout``)."""
        from ..data.folders import find_split
        return find_split(root, split, self.data_layout["inputs"], self.data_layout["targets"])

    def eval_pairs(self, root: Path, split: str) -> List[tuple]:
        """(input path, target path) pairs of a split, for format-agnostic evaluation."""
        return list(self.pair_folder(root, split).pairs)

    @property
    def input_channels(self) -> int:
        """Channels of the model input: the photo's (RGB / BGR: 3, L: 1) plus the context planes
        (3 thumbnail + 2 position)."""
        from ..runtime.model import context_channels
        return (1 if self.spec.input.channels == "L" else 3) + context_channels(self.input_context)

    def model_input(self, rgb_u8: np.ndarray):
        """One whole photo (uint8 HxWx3) -> the normalized 1xCxHxW tensor a model of this task takes."""
        from ..data.torch_datasets import to_input_tensor
        return to_input_tensor(rgb_u8, self.spec.input)[None]

    # ---- model I/O
    def outputs(self, raw) -> Any:
        """Model forward result -> list of logits tensors (first = the one that is exported)."""
        return raw if isinstance(raw, (list, tuple)) else [raw]

    def loss(self, raw, target):
        raise NotImplementedError

    def distill_loss(self, student_raw, teacher_raw, target, temperature: float,
                     alpha: float, hint_weight: float):
        raise NotImplementedError

    def export_module(self, model):
        """An nn.Module mapping the normalized NCHW input to the final output (what ships)."""
        raise NotImplementedError

    # what the test samples' groups are called (the bench reports the metrics per group)
    group_label = "group"

    def sample_groups(self, root, split: str) -> Dict[str, str]:
        """{sample stem: group} for per-group metrics (e.g. deblur's blur type); {} = no groups."""
        return {}

    # model -> the layer producing the exported logits, for output calibration (train/calibrate.py);
    # None (or a method returning None for a model): the task's outputs are not calibrated
    logit_layer = None
    # what a calibration fit means, for the model card
    calibration_note = ("Platt scaling: BCE training leaves the mask hedging at 0.3-0.6 where it is unsure; "
                        "this makes it decide")
    # output calibration's (k, c) grid: ``k * logits + c`` (train/calibrate.py)
    calibration_grid = ((1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0), (-3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0))

    def calibration_logits(self, raw):
        """The model's raw output -> the logits tensor calibration scales (default: the exported one)."""
        return self.outputs(raw)[0]

    def calibrated_prediction(self, z, target: np.ndarray) -> np.ndarray:
        """Calibrated logits (1 x C x h x w) -> the prediction scored against ``target`` (default: a
        sigmoid mask at the target's size)."""
        from ..train.calibrate import sigmoid_prediction
        return sigmoid_prediction(z, target)

    def choose_calibration(self, tried, logits):
        """[(k, c, val metrics)] -> the (k, c) to fold (default: the gentlest within 1% of the best)."""
        from ..train.calibrate import gentlest_near_best
        return gentlest_near_best(self, tried, logits)

    def raw_from_exported(self, y):
        """Invert the export head: an exported model's output (a torch NCHW tensor in the head's
        range, e.g. an imported teacher's run through the runtime) -> what ``distill_loss`` expects
        as the teacher's raw output."""
        from ..errors import UserError
        raise UserError(f"task '{self.name}' cannot distill from an exported (imported) teacher: it "
                        f"defines no raw_from_exported")

    # ---- classical baseline (no network), shown by the bench beside the model rows
    classical_name = None             # row name, e.g. "auto-adjust"; None: the task has none
    classical_note = ""               # what it is, for the report

    def classical(self, rgb_u8: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 photo -> a prediction like the runtime's primary output (its resolution)."""
        raise NotImplementedError

    def classical_methods(self) -> Dict[str, Tuple[Any, str]]:
        """Every method without a network the bench shows beside the models: name -> (function of
        a uint8 HxWx3 photo -> prediction, note). Default: ``classical`` under ``classical_name``."""
        return {self.classical_name: (self.classical, self.classical_note)} if self.classical_name else {}

    def classical_method(self, name: Optional[str] = None):
        """The function of classical method ``name`` (default: the task's first)."""
        methods = self.classical_methods()
        return methods[name][0] if name else next(iter(methods.values()))[0]

    def predict_for_eval(self, head, rgb_u8: np.ndarray, size: int, target_shape) -> np.ndarray:
        """The export module on one photo -> a numpy prediction at the target's resolution.

        Default: resize to ``size`` (what ``inference.mode = resize`` does), run, upsample the first
        output channel bilinearly. Fully convolutional tasks override this to run at full size.
        """
        import torch
        import torch.nn.functional as F
        from PIL import Image

        rgb = np.asarray(Image.fromarray(rgb_u8).resize((size, size), Image.BILINEAR))
        with torch.no_grad():
            y = head(self.model_input(rgb))
            y = F.interpolate(y, size=tuple(target_shape[:2]), mode="bilinear", align_corners=False)
        return y[0, 0].numpy()

    def output_prediction(self, out: np.ndarray, target: np.ndarray) -> np.ndarray:
        """One exported model output at the model's resolution (HxW or HxWxC) -> a prediction like
        the runtime's primary output, at the target's resolution (export parity scores it).
        Default: bilinear resize, clipped to [0, 1] (masks and images)."""
        from ..runtime.model import resize_map
        h, w = target.shape[:2]
        return out if out.shape[:2] == (h, w) else np.clip(resize_map(out, (h, w)), 0.0, 1.0)

    # ---- metrics on numpy predictions at any resolution
    def metrics(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
        raise NotImplementedError

    def load_target(self, path: Path, size=None) -> np.ndarray:
        raise NotImplementedError
