"""Read ``budgets.toml`` (stdlib ``tomllib``) and resolve one target's budgets for one task.

Layers, later wins: the original system's requirements (``BUILTIN``) < the file's ``[defaults]`` <
``[targets.<t>]`` < the task's own performance targets (``Task.budgets``, in its task module) <
the file's ``[tasks.<task>]`` < ``[targets.<t>.tasks.<task>]``. A new task brings its targets with it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict

from ..errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

# the original system's requirements, used under the file's [defaults] (and alone without a file)
BUILTIN = {
    "defaults": {"size_mb": 20.0, "latency_s": 25.0, "max_side": 1024, "max_upload_mb": 35.0,
                 "latency_threads": 1},
    "targets": {"default": {}},
    "tasks": {},
}


def task_budgets(task: str) -> Dict[str, Any]:
    """The registered task's own targets (``Task.budgets``); {} for a name no task has."""
    from ..registry import RegistryError
    from ..tasks import get_task
    try:
        return dict(get_task(task).budgets)
    except RegistryError:
        return {}


def with_device_targets(data: Dict[str, Any]) -> Dict[str, Any]:
    """Every device of ``device_refs.toml`` is a target, with the defaults where the file names none."""
    try:
        from .estimates import load_refs
        for tid in load_refs()[0]:
            data["targets"].setdefault(tid, {})
    except UserError:      # no reference file (Python 3.10): only the file's own targets
        pass
    return data


def load_budgets(path: Path | str | None) -> Dict[str, Any]:
    if path is None or not Path(path).exists():
        if path is not None and str(path) != "budgets.toml":
            raise UserError(f"budgets file not found: {path}")
        return with_device_targets(copy.deepcopy(BUILTIN))
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
    return with_device_targets(data)


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
    out.update(task_budgets(task))
    out.update(budgets.get("tasks", {}).get(task, {}))
    out.update(t_tasks.get(task, {}))
    return out
