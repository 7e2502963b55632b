"""``edgephoto compress``: distill students from the teacher (T = 2 and 7 by default), then select
the variant that ships. ``--weights starter`` instead installs the committed starter student."""

from __future__ import annotations

import argparse

from ..train.command import add_common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compress", help="distill students from the teacher and pick the shipped variant",
                       description=__doc__)
    add_common(p)
    p.add_argument("--temperatures", default=None,
                   help="comma list of distillation temperatures (default: the task's, e.g. 2,7; one run "
                        "for tasks whose outputs have no temperature: upscale, deblur)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the ground-truth loss (0..1)")
    p.add_argument("--hint-weight", type=float, default=0.0,
                   help="weight of the side-output (intermediate) hints; 0 disables them")
    p.add_argument("--teacher", default=None,
                   help="teacher checkpoint, or an exported model directory with a manifest.json (e.g. an "
                        "imported model: dist/<task>/<name>/onnx_fp32), run through the runtime with its own "
                        "preprocessing (default: runs/<task>/teacher/ckpt.pt)")
    p.add_argument("--arch", default=None, help="student architecture (default: the task's)")
    p.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                   help="do not add an output-calibrated copy (<variant>-cal) of each student whose task "
                        "calibrates its logits (matte: Platt scaling for MAE on the val split)")
    p.add_argument("--weights", default=None, choices=["starter"],
                   help="skip distillation and ship the committed starter weights")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..tasks import get_task
    from .select import select_shipped

    task = get_task(args.task)
    data = Path(args.data or task.default_data_root())
    if args.weights == "starter":
        from ..data.fallback import eval_data_root
        from ..weights import install_starter
        name = install_starter(args.task, Path(args.runs))
        data = eval_data_root(task, data)
        select_shipped(args.task, Path(args.runs), data, only=[name])
        return 0
    try:
        temps = ([float(t) for t in args.temperatures.split(",") if t.strip()] if args.temperatures
                 else list(task.distill_temperatures))
    except ValueError:
        raise UserError(f"--temperatures must be numbers, got '{args.temperatures}'") from None
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError("--alpha must be within 0..1")
    from .distill import distill_all
    distill_all(args, temps)
    select_shipped(args.task, Path(args.runs), data)
    return 0
