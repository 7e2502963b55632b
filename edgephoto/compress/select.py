"""Choose the variant that ships: the best student on the validation split that fits the budget.

Writes ``runs/<task>/selection.json``::

    {"task": "matte", "shipped": "student-kd-t2", "metric": "mae",
     "ranking": ["student-kd-t2", "student", ...],      # best first, among those within the budget
     "candidates": {"student": {...val metrics, "params": n, "int8_mb_estimate": x}, ...}}

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
    ranked = sorted(fits, key=lambda k: (round(info.sort_key(fits[k][task.primary_metric]), 6),
                                         fits[k]["params"], k))
    shipped = ranked[0]
    sel = {"task": task_name, "shipped": shipped, "metric": task.primary_metric, "split": "val",
           "ranking": ranked, "candidates": cands}
    write_json_atomic(root / SELECTION_NAME, sel)
    log(f"[select {task_name}] shipping '{shipped}' ({task.primary_metric} "
        f"{cands[shipped][task.primary_metric]:.4f}); written {root / SELECTION_NAME}")
    return sel
