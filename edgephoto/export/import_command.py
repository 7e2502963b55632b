"""``edgephoto import FILE``: wrap an existing ONNX or TF.js layers model (a peer or a teacher) as an artifact like ours.

Imports only argparse at import time; the work is in ``importer.py``.
"""

from __future__ import annotations

import argparse

RESAMPLES = ("bilinear", "bicubic", "lanczos", "nearest", "box")


def register(sub) -> None:
    p = sub.add_parser(
        "import", help="wrap an existing ONNX or TF.js layers model (peer or teacher) as dist/<task>/<name>/<format>_<precision>/",
        description="Wrap an existing ONNX model as an artifact the runtime, the bench and the trainer use "
                    "like ours: model.onnx (a copy) + manifest.json in dist/<task>/<name>/onnx_<precision>/, "
                    "written only when complete. The input/output spec comes from the task's defaults, the "
                    "known-model table (e.g. U2-Netp from `edgephoto fetch`: no flags needed), --spec and "
                    "the flags (later wins). A TF.js layers model.json gives onnx_fp32 (its graph rebuilt in PyTorch) and "
                    "tfjs_fp32 (the original), both checked against the original run by TF.js in Node. "
                    "Package/version/licence from the fetch cache's index.json when "
                    "FILE lies in one. The original file is run by an independent reference (the known "
                    "model's published preprocessing, else the spec step by step) on a few photos and "
                    "the artifact through the runtime; the import is refused when they differ by more "
                    "than 1e-3.")
    p.add_argument("file", nargs="?", help="the .onnx file or a TF.js layers model.json (omit with --known)")
    p.add_argument("--task", help="registered task (default: the known model's)")
    p.add_argument("--name", help="variant name under dist/<task>/ (default: the known model's)")
    p.add_argument("--size", metavar="H[,W]", help="model input size (default: the graph's static size)")
    p.add_argument("--layout", choices=["NCHW", "NHWC"], help="input layout (default: from the graph)")
    p.add_argument("--channels", choices=["RGB", "BGR"], help="channel order (default RGB)")
    p.add_argument("--range", dest="input_range", metavar="LO,HI",
                   help="what pixel values 0..max map to before mean/std (default 0,1)")
    p.add_argument("--mean", metavar="A,B,C", help="per-channel mean (default: the task's)")
    p.add_argument("--std", metavar="A,B,C", help="per-channel std (default: the task's)")
    p.add_argument("--scale", choices=["255", "max"],
                   help="divide pixels by 255 (default) or by the resized image's maximum (rembg's x/max(x))")
    p.add_argument("--resample", choices=RESAMPLES, help="resize filter to the input size (default: the task's)")
    p.add_argument("--output-index", type=int, metavar="K", help="which model output to read (default 0)")
    p.add_argument("--output-range", metavar="LO,HI", help="the output's value range (default: the task's)")
    p.add_argument("--role", choices=["peer", "teacher"], help="peer (compare against; default) or teacher")
    p.add_argument("--spec", metavar="JSON", help="a JSON file with the same keys (size, layout, channels, "
                                                  "range, mean, std, scale, resample, output_index, "
                                                  "output_range, role, package, version, licence)")
    p.add_argument("--package", help="where the model comes from (default: the fetch index)")
    p.add_argument("--version", dest="pkg_version", metavar="VERSION", help="package version")
    p.add_argument("--licence", "--license", dest="licence", help="the model's licence")
    p.add_argument("--dist", default="dist", help="artifact root (default: dist)")
    p.add_argument("--data", default=None,
                   help="dataset root whose test split (DATA/test or DATA/<task>/test) gives the parity "
                        "photos (default: built-in photos, skimage's astronaut, coffee...)")
    p.add_argument("--parity-images", type=int, default=4, help="photos for the parity check (default 4)")
    p.add_argument("--known", action="store_true",
                   help="import every known model present in the fetch cache (--sources); missing ones are "
                        "skipped with one line each (make import-peers)")
    p.add_argument("--sources", default="sources", help="fetch cache for --known (default: sources)")
    p.set_defaults(func=run)


def _print_result(res) -> None:
    m = res.manifest
    par, src = m["parity"], m["source"]
    for n in res.notes:
        print(f"note: {n}")
    print(f"{res.dir}: {m['task']}/{m['variant']} {m['key']} ({m['bytes'] / 1e6:.2f} MB, "
          f"{m['params']:,} params, {m['macs'] / 1e9 if m.get('macs') else float('nan'):.2f} GMAC, role "
          f"{m['role']}); parity max_abs {par['max_abs']:.2e}, mean_abs {par['mean_abs']:.2e} on "
          f"{par['images']} photo(s); source {src.get('package') or '?'}@{src.get('version') or '?'} "
          f"({src.get('licence') or 'licence unknown'}) [{res.seconds:.1f} s]")


def run(args) -> int:
    from pathlib import Path

    from ..errors import UserError
    from .importer import import_known, import_model

    if args.parity_images < 1:
        raise UserError("--parity-images must be at least 1")
    if args.known:
        if args.file or args.task or args.name:
            raise UserError("--known imports every known model found in --sources: give no FILE, --task or --name")
        done, skipped, failed = import_known(Path(args.sources), Path(args.dist),
                                             Path(args.data) if args.data else None, args.parity_images)
        for res in done:
            _print_result(res)
        print(f"import --known: {len(done)} imported, {len(skipped)} skipped (not fetched), "
              f"{len(failed)} failed")
        if failed:
            raise UserError("failed: " + "; ".join(failed))
        return 0
    if not args.file:
        raise UserError("give the .onnx FILE to import (or --known)")
    overrides = {"size": args.size, "layout": args.layout, "channels": args.channels, "range": args.input_range,
                 "mean": args.mean, "std": args.std, "scale": args.scale, "resample": args.resample,
                 "output_index": args.output_index, "output_range": args.output_range, "role": args.role,
                 "package": args.package, "version": args.pkg_version, "licence": args.licence}
    res = import_model(Path(args.file), args.task, args.name, Path(args.dist),
                       Path(args.data) if args.data else None, overrides,
                       Path(args.spec) if args.spec else None, args.parity_images)
    _print_result(res)
    return 0
