"""Knowledge distillation: train the task's student against a trained teacher's soft targets.

The student learns from ``alpha * task loss(ground truth) + (1 - alpha) * T^2 * soft-target loss``
with the teacher's outputs softened by temperature ``T`` (Hinton et al.); with ``hint_weight`` > 0
the teacher's intermediate (side) outputs are matched too. The teacher is a checkpoint or an
exported model directory (e.g. an imported published model: ``imported_teacher.py``; it gives the
final output only, so side-output hints have nothing to match). One run per temperature, written to
``runs/<task>/student-kd-t<T>/`` so the bench can compare them side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Sequence


def variant_name(temperature: float) -> str:
    return f"student-kd-t{temperature:g}"


def distill_all(args, temperatures: Sequence[float]) -> Dict[str, Any]:
    """Run one distillation per temperature (resumable); returns {variant: val metrics}."""
    from ..errors import UserError
    from ..tasks import get_task
    from ..train.command import make_config
    from ..train.trainer import train

    task = get_task(args.task)
    from .imported_teacher import is_model_dir
    teacher = Path(args.teacher) if args.teacher else Path(args.runs) / args.task / "teacher" / "ckpt.pt"
    if teacher.is_dir() and not is_model_dir(teacher):
        raise UserError(f"--teacher {teacher} is a folder without a manifest.json (give a checkpoint file or "
                        f"an exported model directory such as dist/{args.task}/<name>/onnx_fp32)")
    if not teacher.is_file() and not is_model_dir(teacher):
        raise UserError(f"no teacher checkpoint at {teacher} (run `edgephoto train --task {args.task} --role teacher` "
                        f"first, or pass --teacher)")
    results = {}
    for T in temperatures:
        name = variant_name(T)
        cfg = make_config(args, name, "distill", Path(args.runs) / args.task / name,
                          args.arch or task.student_arch, teacher=str(teacher),
                          temperature=float(T), alpha=args.alpha, hint_weight=args.hint_weight)
        results[name] = train(cfg).get("val", {})
        if task.logit_layer is not None and getattr(args, "calibrate", True):
            _calibrated_copy(args, task, Path(args.runs) / args.task / name / "ckpt.pt")
    return results


def _calibrated_copy(args, task, ckpt: Path) -> None:
    """``<variant>-cal/ckpt.pt``: the variant with its output calibrated on the val split
    (train/calibrate.py); a candidate for selection like the others. Redone only when the
    variant's checkpoint is newer."""
    from ..train.calibrate import calibrate_checkpoint
    out = ckpt.parent.with_name(ckpt.parent.name + "-cal") / "ckpt.pt"
    if out.is_file() and out.stat().st_mtime >= ckpt.stat().st_mtime:
        return
    data = Path(args.data or task.default_data_root())
    res = calibrate_checkpoint(ckpt, task.name, data, out, required=False)
    if res is None:          # e.g. colorize's regression head: nothing to calibrate
        return
    m = res["metric"]
    print(f"[calibrate {task.name}] {out.parent.name}: logits x {res['scale']:g} + {res['shift']:g}, val {m} "
          f"{res['before'][m]:.4f} -> {res['after'][m]:.4f}", flush=True)
