"""``edgephoto export``: checkpoints under ``runs/<task>/<variant>/ckpt.pt`` -> ``dist/<task>/...``.

Imports only argparse at import time; the format table is read from ``formats.py`` (torch-free).
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    from .formats import FORMATS, FORMAT_KEYS

    rows = "; ".join(f"{f.key} ({'every variant' if f.default == 'all' else 'shipped only'})"
                     for f in FORMATS)
    p = sub.add_parser(
        "export", help="export checkpoints to ONNX / TFLite / TF.js with parity checks",
        description="Export trained checkpoints to device artifacts, each checked for parity against "
                    "the PyTorch model on held-out images, with a manifest. Formats: " + rows + ".")
    p.add_argument("--task", default="matte", help="task name (default: matte)")
    p.add_argument("--runs", default="runs", help="runs folder holding <task>/<variant>/ckpt.pt (default: runs)")
    p.add_argument("--variants", nargs="+", metavar="NAME",
                   help="variants to export (default: every <runs>/<task>/*/ckpt.pt)")
    p.add_argument("--formats", nargs="+", choices=FORMAT_KEYS, metavar="KEY",
                   help=f"rows to build (choices: {', '.join(FORMAT_KEYS)}; default: all for the "
                        f"shipped variant, the 'every variant' rows for the others)")
    p.add_argument("--dist", default="dist", help="output root (default: dist)")
    p.add_argument("--data", default=None, help="task data root with test/val (parity) and train "
                                                "(calibration) splits (default: data/<task>)")
    p.add_argument("--calib", default=None, metavar="DIR",
                   help="folder of real task images for int8 calibration (default: the train split's inputs)")
    p.add_argument("--shipped", default=None, metavar="NAME",
                   help="the shipped variant (default: 'shipped' in <runs>/<task>/selection.json)")
    p.add_argument("--checkpoint", default=None, metavar="PATH", help="export this one checkpoint file "
                                                                      "(with --variant)")
    p.add_argument("--variant", default=None, metavar="NAME", help="variant name for --checkpoint")
    p.add_argument("--size", type=int, default=None,
                   help="model input size (default: the training size; tiled tasks: the task's tile size)")
    p.add_argument("--parity-images", type=int, default=16, help="held-out images for parity (default 16)")
    p.add_argument("--int8", default="onnxruntime", choices=["onnxruntime", "nncf"],
                   help="ONNX int8 quantizer (default: onnxruntime)")
    p.set_defaults(func=run)


def _plan(args):
    """-> (task, [(variant, checkpoint)], shipped name or None)."""
    import json
    from pathlib import Path

    from ..errors import UserError
    from ..tasks import get_task

    task = get_task(args.task)
    runs = Path(args.runs) / task.name
    shipped = args.shipped
    sel = runs / "selection.json"
    if shipped is None and sel.is_file():
        try:
            shipped = json.loads(sel.read_text()).get("shipped")
        except (OSError, ValueError) as e:
            raise UserError(f"unreadable {sel}: {e}") from None
    if args.checkpoint or args.variant:
        if not (args.checkpoint and args.variant):
            raise UserError("--checkpoint and --variant go together")
        ck = Path(args.checkpoint)
        if not ck.is_file():
            raise UserError(f"checkpoint not found: {ck}")
        return task, [(args.variant, ck)], shipped
    if args.variants:
        plan = []
        for v in args.variants:
            ck = runs / v / "ckpt.pt"
            if not ck.is_file():
                raise UserError(f"no checkpoint for variant '{v}': {ck} missing")
            plan.append((v, ck))
    else:
        plan = sorted((ck.parent.name, ck) for ck in runs.glob("*/ckpt.pt")) if runs.is_dir() else []
        if not plan:
            raise UserError(f"no checkpoints under {runs}/*/ckpt.pt (run `edgephoto train` or pass "
                            f"--checkpoint PATH --variant NAME)")
    if shipped and shipped not in {v for v, _ in plan} and not args.variants:
        raise UserError(f"shipped variant '{shipped}' has no checkpoint under {runs}")
    return task, plan, shipped


def mark_shipped(task_dist, shipped: str) -> list:
    """Keep one shipped variant per task: clear the flag in other variants' manifests (artifacts of
    an earlier selection stay, as ordinary rows). Returns the directories changed."""
    import json

    from ..runtime.manifest import MANIFEST_NAME, write_json_atomic
    changed = []
    for mf in sorted(task_dist.glob(f"*/*/{MANIFEST_NAME}")):
        m = json.loads(mf.read_text())
        if m.get("shipped") and m.get("variant") != shipped:
            m["shipped"] = False
            write_json_atomic(mf, m)
            changed.append(str(mf.parent))
    return changed


def run(args) -> int:
    import time
    from pathlib import Path

    from ..errors import UserError
    from . import export_variant
    from .formats import resolve_formats

    task, plan, shipped = _plan(args)
    data = Path(args.data) if args.data else task.default_data_root()
    if not data.is_dir():
        raise UserError(f"data folder not found: {data} (run `edgephoto data` or pass --data)")
    all_results = []
    t0 = time.time()
    for variant, ck in plan:
        is_shipped = variant == shipped
        res = export_variant(task.name, ck, variant, out_root=Path(args.dist), formats=args.formats,
                             data_root=data, calib_dir=Path(args.calib) if args.calib else None,
                             shipped=is_shipped, parity_images=args.parity_images,
                             int8_method=args.int8, size=args.size, progress=lambda s: print(s, flush=True))
        all_results.append((variant, is_shipped, res))
    if shipped:
        for old in mark_shipped(Path(args.dist) / task.name, shipped):
            print(f"{old}: no longer the shipped variant (manifest updated)")

    # summary
    print(f"\nexport summary ({time.time() - t0:.0f} s, {args.dist}/{task.name}):")
    print(f"{'variant':<20} {'format':<12} {'status':<7} {'MB':>7} {'max_abs':>9} {'q_drop':>9} "
          f"{'s':>6}  reason")
    failed_required = []
    for variant, is_shipped, res in all_results:
        required = {s.key for s in resolve_formats(args.formats, is_shipped)} if is_shipped else set()
        for r in res:
            m, par = r.manifest, r.manifest.get("parity", {})
            mb = f"{m['bytes'] / 1e6:.2f}" if m else "-"
            mx = f"{par['max_abs']:.1e}" if par else "-"
            md = f"{par['quality_drop']:+.4f}" if "quality_drop" in par else "-"
            name = variant + (" *" if is_shipped else "")
            print(f"{name:<20} {r.key:<12} {r.status:<7} {mb:>7} {mx:>9} {md:>9} {r.seconds:>6.1f}  {r.reason}")
            if not r.ok and r.key in required:
                failed_required.append(f"{variant}/{r.key}")
    if shipped:
        print(f"(* = shipped variant; q_drop = rise of the test {task.primary_metric} vs. PyTorch)")
    n_fail = sum(not r.ok for _, _, res in all_results for r in res)
    if failed_required:
        print(f"shipped variant: required format(s) failed: {', '.join(failed_required)}")
        return 1
    if n_fail:
        print(f"{n_fail} non-required row(s) failed (see reasons above)")
    return 0
