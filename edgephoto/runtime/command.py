"""``edgephoto run TASK IMAGE -o OUT``: the runtime on one photo (imports only argparse here)."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="run an exported model on a photo (background removal: RGBA cut-out / mask)",
        description="Run an exported model on one JPEG/PNG photo with the light runtime "
                    "(numpy, Pillow, one engine). The output format follows the extension of -o; "
                    "use .png for an RGBA cut-out (.jpg flattens it onto white).")
    p.add_argument("task", help="task name, e.g. matte")
    p.add_argument("image", help="input photo (JPEG or PNG, at most 35 MB and 1024x1024 unless --downscale)")
    p.add_argument("-o", "--output", help="main output, e.g. out.png (RGBA cut-out for matte)")
    p.add_argument("--mask", help="also write the full-resolution mask (8-bit grayscale PNG)")
    p.add_argument("--model", help="exported model directory (default: the shipped model under --dist)")
    p.add_argument("--dist", default="dist", help="artifact root to search (default: dist)")
    p.add_argument("--format", choices=["tflite", "onnx"], help="restrict the automatic choice to a format")
    p.add_argument("--precision", choices=["int8", "fp16", "fp32"], help="restrict the automatic choice")
    p.add_argument("--engine", help="litert | tflite_runtime | tensorflow | onnxruntime (default: best installed)")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: all cores)")
    p.add_argument("--downscale", action="store_true",
                   help="shrink images larger than 1024x1024 to fit instead of refusing them")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)

    a = sub.add_parser(
        "adjust", help="brightness / contrast / colour balance, each a value in [-100, 100] or auto",
        description="Classical photo adjustments (no network, at most three at once), applied in the "
                    "order colour balance, brightness, contrast. 'auto' uses gray-world colour balance, "
                    "a mean-luma target for brightness and a 1-99 percentile levels stretch for contrast.")
    a.add_argument("image", help="input photo (JPEG or PNG, at most 35 MB and 1024x1024 unless --downscale)")
    a.add_argument("-o", "--output", required=True, help="output image (.jpg or .png)")
    a.add_argument("--brightness", help="-100..100 or auto")
    a.add_argument("--contrast", help="-100..100 or auto")
    a.add_argument("--color", help="colour balance: -100 (cool) .. 100 (warm) or auto")
    a.add_argument("--downscale", action="store_true", help="shrink images larger than 1024x1024 to fit")
    a.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    a.set_defaults(func=run_adjust)


def run(args) -> int:
    from ..errors import UserError
    from . import find_model, load

    if not args.output and not args.mask:
        raise UserError("nothing to write: give -o OUT.png and/or --mask MASK.png")
    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be at least 1")
    model_dir = args.model or find_model(args.task, args.dist, args.format, args.precision)
    model = load(model_dir, engine=args.engine, threads=args.threads)
    if model.task != args.task:
        raise UserError(f"{model_dir} is a '{model.task}' model, not '{args.task}'")
    res = model.predict(args.image, downscale=args.downscale)
    if args.output:
        res.save(args.output)
    if args.mask:
        names = [k for k in res.outputs if k != "rgba"]
        res.save_output("mask" if "mask" in names else names[0], args.mask)
    if not args.quiet:
        ph = res.photo
        note = f" (downscaled from {ph.original_size[0]}x{ph.original_size[1]})" if ph.downscaled else ""
        outs = ", ".join(x for x in (args.output, args.mask) if x)
        print(f"{args.image}: {ph.size[0]}x{ph.size[1]}{note} -> {outs} "
              f"[{model.manifest.get('variant', '?')} {model.manifest['format']}_{model.manifest['precision']} "
              f"on {model.engine.name}, {model.engine.threads} thread(s), {res.timings['total_s']:.3f} s]",
              file=sys.stderr)
    return 0


def run_adjust(args) -> int:
    from PIL import Image

    from .adjust import adjust
    from .imageio import read_image, save_atomic

    wanted = {k: getattr(args, k) for k in ("color", "brightness", "contrast") if getattr(args, k) is not None}
    photo = read_image(args.image, downscale=args.downscale)
    out, done = adjust(photo.rgb, wanted)
    im = Image.fromarray(out)
    if photo.alpha is not None and args.output.lower().endswith(".png"):
        im.putalpha(Image.fromarray(photo.alpha))
    save_atomic(im, args.output)
    if not args.quiet:
        what = ", ".join(f"{d['name']} {d['value']}" for d in done)
        print(f"{args.image}: {what} -> {args.output}")
    return 0
