"""Checkpoints: one ``.pt`` dict that rebuilds its model without any other file.

    {"format": "edgephoto-ckpt-1", "task": "matte", "arch": "u2netp_slim", "arch_kwargs": {},
     "input_size": 192, "step": 1500, "model": state_dict, "optimizer": ..., "scheduler": ...,
     "metrics": {...}, "config": {...}}

Writes go to a temporary file and are renamed, so an interrupted save never corrupts a run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Tuple

import torch

from ..models import create_model

CKPT_FORMAT = "edgephoto-ckpt-1"


def save_checkpoint(path: Path, model: torch.nn.Module, *, task: str, arch: str, input_size: int,
                    step: int = 0, arch_kwargs: Dict[str, Any] | None = None,
                    optimizer=None, scheduler=None, metrics: Dict[str, Any] | None = None,
                    config: Dict[str, Any] | None = None, weights_only: bool = False,
                    extra: Dict[str, Any] | None = None) -> Path:
    """``extra``: more resumable state (e.g. the GAN's discriminator), dropped with ``weights_only``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = model.module if hasattr(model, "module") else model  # unwrap DDP
    state = {"format": CKPT_FORMAT, "task": task, "arch": arch, "arch_kwargs": arch_kwargs or {},
             "input_size": int(input_size), "step": int(step),
             "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
             "metrics": metrics or {}, "config": config or {}}
    if not weights_only:
        if optimizer is not None:
            state["optimizer"] = optimizer.state_dict()
        if scheduler is not None:
            state["scheduler"] = scheduler.state_dict()
        state.update(extra or {})
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: Path) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT:
        raise ValueError(f"{path} is not an edgephoto checkpoint")
    return state


def load_model(path: Path) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Rebuild the model of a checkpoint in eval mode; returns (model, checkpoint dict)."""
    state = read_checkpoint(path)
    model = create_model(state["arch"], **state.get("arch_kwargs", {}))
    model.load_state_dict(state["model"])
    return model.eval(), state
