"""The ``Task`` interface shared by every stage. See ``matte.py`` for the first implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np


@dataclass
class Task:
    name: str
    description: str
    teacher_arch: str                 # what `train` builds as the teacher
    student_arch: str                 # what `train` / `compress` build as the student
    input_size: int                   # square side the exported models take
    mean: Sequence[float] = (0.0, 0.0, 0.0)
    std: Sequence[float] = (1.0, 1.0, 1.0)
    primary_metric: str = "mae"       # the number the compression table and selection use
    lower_is_better: bool = True
    output: Dict[str, Any] = field(default_factory=dict)     # manifest "output" block
    inference: Dict[str, Any] = field(default_factory=lambda: {"mode": "resize"})
    data_layout: Dict[str, str] = field(default_factory=dict)  # sub-folder names of a split

    # ---- data
    def default_data_root(self) -> Path:
        return Path("data") / self.name

    def generate_builtin(self, root: Path, seed: int = 0, sizes=None, progress=None) -> Dict[str, int]:
        raise NotImplementedError

    def dataset(self, root: Path, split: str, size: int, train: bool):
        """A torch Dataset yielding (input CHW float normalized, target tensor)."""
        raise NotImplementedError

    def eval_pairs(self, root: Path, split: str) -> List[tuple]:
        """(input path, target path) pairs of a split, for format-agnostic evaluation."""
        raise NotImplementedError

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

    # ---- metrics on numpy predictions at any resolution
    def metrics(self, preds: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> Dict[str, float]:
        raise NotImplementedError

    def load_target(self, path: Path, size=None) -> np.ndarray:
        raise NotImplementedError

    def manifest_fields(self) -> Dict[str, Any]:
        return {
            "task": self.name,
            "input": {"layout": "NCHW", "size": [self.input_size, self.input_size],
                      "range": [0.0, 1.0], "mean": list(self.mean), "std": list(self.std),
                      "channels": "RGB"},
            "output": dict(self.output),
            "inference": dict(self.inference),
        }
