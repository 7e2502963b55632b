"""Choose the variant that ships: the best student on the validation split that fits the budget.

Writes ``runs/<task>/selection.json``::

    {"task": "matte", "shipped": "student-kd-t2", "metric": "mae",
     "ranking": ["student-kd-t2", "student", ...],      # best first, among those within the budget
     "candidates": {"student": {...val metrics, "params": n, "int8_mb_estimate": x}, ...},
     "classical": {"auto-adjust": {...val metrics}},    # the task's classical methods, same split
     "overall": ["student", "classical:auto-adjust", ...]}   # networks and classical methods, best first

A classical method (retouch's automatic adjustments, upscale's bicubic, ...) never ships, but it is
ranked with the networks: when one beats every network, selection says so in one line and export
writes that sentence into the shipped manifests (``selection.note``), so nobody ships a network
believing it is better than doing without one.

The export stage reads ``shipped`` to decide which variant gets every format; when that variant's
ship format (``budgets.toml``) fails its quality gate, export ships the next variant of
``ranking`` whose ship format passes and records ``fallback`` here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, Optional

from ..metrics import metric_info

TEACHER = "teacher"
SELECTION_NAME = "selection.json"


def read_selection(runs_task: Path) -> Dict[str, Any]:
    """``runs/<task>/selection.json`` as ``select_shipped`` (and export's fallback) wrote it; {} if absent."""
    path = Path(runs_task) / SELECTION_NAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        from ..errors import UserError
        raise UserError(f"unreadable {path}: {e}") from None


def select_shipped(task_name: str, runs: Path, data_root: Path, size_budget_mb: float = 20.0,
                   only: Optional[Iterable[str]] = None, log=print) -> Dict[str, Any]:
    from ..models import count_parameters
    from ..runtime.manifest import write_json_atomic
    from ..tasks import get_task
    from ..train.checkpoint import load_model
    from ..train.evaluate import evaluate

    task = get_task(task_name)
    root = Path(runs) / task_name
    cands: Dict[str, Dict[str, Any]] = {}
    for ckpt in sorted(root.glob("*/ckpt.pt")):
        name = ckpt.parent.name
        if name == TEACHER or (only is not None and name not in set(only)):
            continue
        model, state = load_model(ckpt)
        metrics = evaluate(model, task, data_root, "val", state["input_size"])
        params = count_parameters(model)
        # int8 weights: ~1 byte per parameter plus graph overhead
        metrics.update(params=params, int8_mb_estimate=round(params * 1.1 / 1e6, 3))
        cands[name] = metrics
        log(f"[select {task_name}] {name}: val {task.primary_metric} {metrics[task.primary_metric]:.4f}, "
            f"{params / 1e6:.2f} M params")
    if not cands:
        from ..errors import UserError
        raise UserError(f"no student checkpoints under {root} to choose from")
    fits = {k: v for k, v in cands.items() if v["int8_mb_estimate"] <= size_budget_mb} or cands
    info = metric_info(task.primary_metric)
    # best first; ties (to 1e-6) go to the smaller model, then the name, so the order is stable
    # a task may put conditions first (generation: a variant that collapses or memorises ranks last)
    first = getattr(task, "selection_penalty", lambda m: 0.0)
    ranked = sorted(fits, key=lambda k: (first(fits[k]), round(info.sort_key(fits[k][task.primary_metric]), 6),
                                         fits[k]["params"], k))
    shipped = ranked[0]
    classical = classical_scores(task, data_root, "val")
    overall = sorted([*ranked, *(CLASSICAL_PREFIX + m for m in classical)],
                     key=lambda k: info.sort_key(_score(cands, classical, k, task.primary_metric)))
    sel = {"task": task_name, "shipped": shipped, "metric": task.primary_metric, "split": "val",
           "ranking": ranked, "candidates": cands, "classical": classical, "overall": overall}
    write_json_atomic(root / SELECTION_NAME, sel)
    log(f"[select {task_name}] shipping '{shipped}' ({task.primary_metric} "
        f"{cands[shipped][task.primary_metric]:.4f}); written {root / SELECTION_NAME}")
    note = classical_note(sel, shipped)
    if note:
        log(f"[select {task_name}] {note}")
    return sel


CLASSICAL_PREFIX = "classical:"


def classical_scores(task, data_root: Path, split: str) -> Dict[str, Dict[str, float]]:
    """The task's classical methods (no network) scored on ``split`` like the candidates."""
    from ..bench.run import classical_quality
    return {m: {k: v for k, v in classical_quality(data_root, task.name, None, split=split, method=m).items()
                if isinstance(v, float)}
            for m in task.classical_methods()}


def _score(cands, classical, key: str, metric: str) -> float:
    if key.startswith(CLASSICAL_PREFIX):
        return classical[key[len(CLASSICAL_PREFIX):]][metric]
    return cands[key][metric]


def classical_note(sel: Dict[str, Any], variant: str) -> Optional[str]:
    """One plain sentence comparing ``variant`` with the task's best classical method on the
    selection split, or None when the task has no classical method (or the selection predates them)."""
    classical, cands, metric = sel.get("classical") or {}, sel.get("candidates") or {}, sel.get("metric")
    if not classical or variant not in cands or metric not in cands[variant]:
        return None
    info = metric_info(metric)
    best = min(classical, key=lambda m: info.sort_key(classical[m][metric]))
    ours, theirs = cands[variant][metric], classical[best][metric]
    split = sel.get("split", "val")
    if info.sort_key(theirs) < info.sort_key(ours):
        return (f"the classical method '{best}' (no network) beats the shipped network '{variant}' on the "
                f"{split} split: {metric} {theirs:.4f} against {ours:.4f}; use it instead where that matters")
    return (f"the shipped network '{variant}' beats the best classical method '{best}' on the {split} "
            f"split: {metric} {ours:.4f} against {theirs:.4f}")
