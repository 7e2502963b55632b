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
    p.add_argument("--qat", action="store_true",
                   help="instead of distilling: quantization-aware fine-tuning of --from's checkpoint (int8 "
                        "simulated in every weighted layer; --steps, default 500, at --lr, default 1e-4) into "
                        "runs/<task>/<from>-qat/; then `edgephoto export --variant <from>-qat` gives its onnx_int8 "
                        "beside the PTQ one")
    p.add_argument("--from", dest="qat_from", default="starter",
                   help="with --qat: the variant under runs/<task>/ to fine-tune (default: starter)")
    p.add_argument("--fit", action="store_true",
                   help="instead of distilling: search networks x input sizes x precisions (fp32, int8, int8 with "
                        "a float32 fallback for the layers int8 hurts most) for the best val quality that meets "
                        "--target's size and latency budgets (latency: the per-target estimate's upper bound), "
                        "ship it to <dist>/<task>/fit-<target>/ and write the frontier to <reports>/fit/")
    p.add_argument("--target", default="rpi4", help="with --fit: rpi4, rpi5, jetson-nano-cpu, x86-1t or browser-wasm "
                                                   "(edgephoto/bench/device_refs.toml; default rpi4)")
    p.add_argument("--sizes", default=None, help="with --fit: comma list of input sizes to try (default: around "
                                                 "the trained size; a tiled model's tile)")
    p.add_argument("--networks", default=None, help="with --fit: comma list of the networks to try (variants "
                                                    "under runs/<task>/, or starter; default: all)")
    p.add_argument("--dist", default="dist", help="with --fit: where the pick is shipped (default: dist)")
    p.add_argument("--reports", default="reports", help="with --fit: where fit/<task>-<target>.* go (default: reports)")
    p.add_argument("--limit", type=int, default=20, help="with --fit: val images per candidate (default 20; 0: all)")
    p.add_argument("--budgets", default="budgets.toml", help="with --fit: budgets file (default: budgets.toml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..tasks import get_task
    from .select import select_shipped

    task = get_task(args.task)
    data = Path(args.data or task.default_data_root())
    if args.qat:
        from .qat import run_qat
        run_qat(args)
        return 0
    if args.fit:
        from .fit import fit
        try:
            sizes = [int(x) for x in args.sizes.split(",") if x.strip()] if args.sizes else None
        except ValueError:
            raise UserError(f"--sizes must be whole numbers, got '{args.sizes}'") from None
        fit(args.task, args.target, Path(args.runs), data, Path(args.dist), Path(args.reports),
            Path(args.budgets), sizes=sizes, limit=args.limit or None,
            networks=[n.strip() for n in args.networks.split(",") if n.strip()] if args.networks else None)
        return 0
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
