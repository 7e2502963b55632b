"""Read ``budgets.toml`` (stdlib ``tomllib``) and resolve one target's budgets for one task."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict

from ..errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

# used when no budgets file exists (same numbers as the repository's budgets.toml)
BUILTIN = {
    "defaults": {"size_mb": 20.0, "latency_s": 25.0, "max_side": 1024, "max_upload_mb": 35.0,
                 "latency_threads": 1, "latency_scale": 1.0},
    "targets": {"default": {}},
    "tasks": {"matte": {"ship_format": "tflite_int8", "shipped_size_mb": 1.5, "latency_1024_s": 0.15,
                        "int8_quality_rel_loss": 0.10, "peak_mem_mb": 300},
              "retouch": {"ship_format": "tflite_int8", "shipped_size_mb": 0.5, "latency_1024_s": 0.5,
                          "int8_quality_rel_loss": 0.10, "peak_mem_mb": 400}},
}


def load_budgets(path: Path | str | None) -> Dict[str, Any]:
    if path is None or not Path(path).exists():
        if path is not None and str(path) != "budgets.toml":
            raise UserError(f"budgets file not found: {path}")
        return copy.deepcopy(BUILTIN)
    if tomllib is None:
        raise UserError("reading budgets.toml needs Python 3.11+ (tomllib)")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"cannot read budgets file {path}: {e}") from None
    data.setdefault("defaults", {})
    data.setdefault("targets", {}).setdefault("default", {})
    data.setdefault("tasks", {})
    data["_path"] = str(path)
    return data


def resolve(budgets: Dict[str, Any], target: str, task: str) -> Dict[str, Any]:
    """Flat budgets for (target, task): defaults < target < tasks.<task> < targets.<t>.tasks.<task>."""
    targets = budgets.get("targets", {})
    if target not in targets:
        raise UserError(f"unknown target '{target}' in {budgets.get('_path', 'budgets')} "
                        f"(known: {', '.join(sorted(targets)) or 'none'})")
    t = dict(targets[target])
    t_tasks = t.pop("tasks", {})
    out: Dict[str, Any] = {}
    out.update(BUILTIN["defaults"])
    out.update(budgets.get("defaults", {}))
    out.update(t)
    out.update(budgets.get("tasks", {}).get(task, {}))
    out.update(t_tasks.get(task, {}))
    return out
