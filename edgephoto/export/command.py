"""``edgephoto export``: checkpoints under ``runs/<task>/<variant>/ckpt.pt`` -> ``dist/<task>/...``.

Imports only argparse at import time; the format table is read from ``formats.py`` (torch-free).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import add_task_argument


def register(sub) -> None:
    from .formats import FORMATS, FORMAT_KEYS

    rows = "; ".join(f"{f.key} ({'every variant' if f.default == 'all' else 'shipped only'})"
                     for f in FORMATS)
    p = sub.add_parser(
        "export", help="export checkpoints to ONNX / TFLite / TF.js with parity checks",
        description="Export trained checkpoints to device artifacts, each checked for parity against "
                    "the PyTorch model on held-out images, with a manifest. Formats: " + rows + ".")
    add_task_argument(p)
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
    p.add_argument("--budgets", default="budgets.toml",
                   help="budgets file naming each task's ship_format (default: budgets.toml)")
    p.set_defaults(func=run)


def _plan(args):
    """-> (task, [(variant, checkpoint)], shipped name or None, selection.json's content or {})."""
    from pathlib import Path

    from ..compress.select import read_selection
    from ..errors import UserError
    from ..tasks import get_task

    task = get_task(args.task)
    runs = Path(args.runs) / task.name
    selection = read_selection(runs)
    shipped = args.shipped if args.shipped is not None else selection.get("shipped")
    if args.checkpoint or args.variant:
        if not (args.checkpoint and args.variant):
            raise UserError("--checkpoint and --variant go together")
        ck = Path(args.checkpoint)
        if not ck.is_file():
            raise UserError(f"checkpoint not found: {ck}")
        return task, [(args.variant, ck)], shipped, selection
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
    return task, plan, shipped, selection


def mark_shipped(task_dist, shipped: str, note: str | None = None, ship_key: str | None = None) -> list:
    """Keep one shipped variant per task: set the flag in the shipped variant's manifests and clear
    it in the others' (artifacts of an earlier selection stay, as ordinary rows; imported models
    are left alone). ``note``: selection's sentence on the shipped variant against the classical
    method (``compress.select.classical_note``), kept as ``selection.note`` in its manifests only.
    ``ship_key``: the budgets' ship format (e.g. ``tflite_fp16``), flagged ``ship_format`` in that
    one directory of the shipped variant, so the runtime's default is the row the bench judges.
    Returns the directories changed."""
    from ..runtime.manifest import MANIFEST_NAME, list_models, write_json_atomic
    changed = []
    task_dist = Path(task_dist)
    for e in list_models(task_dist.parent, task_dist.name):
        if e.role != "ours":   # imported peers / teachers never ship
            continue
        want = e.variant == shipped
        man = {k: v for k, v in e.manifest.items() if k not in ("selection", "ship_format")}
        man["shipped"] = want
        if want and ship_key is not None and e.key == ship_key:
            man["ship_format"] = True
        if want and note:
            man["selection"] = {"note": note}
        if man != e.manifest:
            write_json_atomic(e.dir / MANIFEST_NAME, man)
            changed.append(str(e.dir))
    return changed


def ship_format(task_name: str, budgets_path: str = "budgets.toml") -> str | None:
    """The format a device runs for ``task_name`` (``ship_format`` in the budgets), or None."""
    from ..bench.budgets import load_budgets, resolve
    return resolve(load_budgets(budgets_path), "default", task_name).get("ship_format")


def run(args) -> int:
    import sys
    import time
    from pathlib import Path

    from ..compress.select import SELECTION_NAME
    from ..errors import UserError
    from ..runtime.manifest import write_json_atomic
    from ..utils.progress import log
    from . import export_variant
    from .formats import default_formats

    task, plan, shipped, selection = _plan(args)
    data = Path(args.data) if args.data else task.default_data_root()
    # an explicit folder that is missing is an error; the default one (also what `make export` passes)
    # falls back to a small built-in held-out set
    if args.data and not data.is_dir() and data != task.default_data_root():
        raise UserError(f"data folder not found: {data} (run `edgephoto data` or pass --data)")
    from ..data.fallback import eval_data_root
    data = eval_data_root(task, data)
    required = ship_format(task.name, args.budgets)
    dist_task = Path(args.dist) / task.name
    results = {}     # variant -> {key: ExportResult}
    t0 = time.time()

    def export(variant, ck, is_shipped, formats=None):
        res = export_variant(task.name, ck, variant, out_root=Path(args.dist), formats=formats,
                             data_root=data, calib_dir=Path(args.calib) if args.calib else None,
                             shipped=is_shipped, parity_images=args.parity_images,
                             int8_method=args.int8, size=args.size, progress=lambda s: log(s, sys.stdout),
                             bar_stream=sys.stdout)   # the bar goes with the messages (stderr: errors)
        results.setdefault(variant, {}).update({r.key: r for r in res})

    for variant, ck in plan:
        export(variant, ck, variant == shipped, args.formats)

    # the shipped variant must have its ship format; otherwise the next-best variant that does ships
    fallback_note = None
    ship_ok = lambda v: required in results.get(v, {}) and results[v][required].ok  # noqa: E731
    if shipped and required and required in results.get(shipped, {}) and not ship_ok(shipped):
        reason = results[shipped][required].reason
        print(f"\nshipped variant '{shipped}': its ship format {required} failed ({reason}); "
              f"trying the next-best variant", flush=True)
        ckpts = dict(plan)
        chosen = None
        # the variants in selection order (best first), limited to the ones being exported
        for cand in [v for v in selection.get("ranking") or [] if v in ckpts and v != shipped]:
            todo = [k for k in (args.formats or default_formats(True))
                    if k not in results.get(cand, {}) or not results[cand][k].ok]
            print(f"[fallback] {cand}: exporting {', '.join(todo)}", flush=True)
            export(cand, ckpts[cand], True, todo)
            if ship_ok(cand):
                chosen = cand
                break
            print(f"[fallback] {cand}: {required} failed too ({results[cand][required].reason})", flush=True)
        if chosen is None:
            _summary(task, results, shipped, required, time.time() - t0, args.dist)
            raise UserError(f"no {task.name} variant passes its ship format {required} "
                            f"(tried {', '.join(results)}): see the export summary above")
        fallback_note = (f"'{shipped}' {required} failed ({reason}); shipped the next-best variant "
                         f"'{chosen}' instead")
        selection.setdefault("task", task.name)
        selection.update(shipped=chosen, fallback={"from": shipped, "format": required, "reason": reason})
        write_json_atomic(Path(args.runs) / task.name / SELECTION_NAME, selection)
        shipped = chosen
    if shipped:
        from ..compress.select import classical_note
        note = classical_note(selection, shipped)
        for changed in mark_shipped(dist_task, shipped, note, ship_key=required):
            print(f"{changed}: manifest updated (shipped variant: {shipped})")
        if note:
            print(f"selection: {note}")
    _summary(task, results, shipped, required, time.time() - t0, args.dist)
    if fallback_note:
        print(f"fallback: {fallback_note}")
    after = getattr(task, "after_export", None)
    if after is not None and shipped:   # e.g. the generator's pipelines through the upscaler
        after(Path(args.dist), data)
    return 0


def _summary(task, results, shipped, required, seconds, dist) -> None:
    print(f"\nexport summary ({seconds:.0f} s, {dist}/{task.name}):")
    print(f"{'variant':<20} {'format':<12} {'status':<7} {'MB':>7} {'max_abs':>9} {'q_drop':>9} "
          f"{'s':>6}  reason")
    for variant, res in results.items():
        for r in res.values():
            m, par = r.manifest, r.manifest.get("parity", {})
            mb = f"{m['bytes'] / 1e6:.2f}" if m else "-"
            mx = f"{par['max_abs']:.1e}" if par else "-"
            md = f"{par['quality_drop']:+.4f}" if "quality_drop" in par else "-"
            name = variant + (" *" if variant == shipped else "")
            print(f"{name:<20} {r.key:<12} {r.status:<7} {mb:>7} {mx:>9} {md:>9} {r.seconds:>6.1f}  {r.reason}")
    if shipped:
        print(f"(* = shipped variant; it must pass its ship format {required or '(none set)'}; "
              f"q_drop = how much worse the test {task.primary_metric} is than PyTorch's, positive = worse)")
    n_fail = sum(not r.ok for res in results.values() for r in res.values())
    if n_fail:
        print(f"{n_fail} row(s) failed and were not written (reasons above; the bench lists them)")
