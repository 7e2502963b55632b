"""``edgephoto run TASK IMAGE -o OUT``: the runtime on one photo (imports only argparse here)."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="run an exported model on a photo (matte: RGBA cut-out + mask; retouch, deblur: the "
                    "photo; upscale: the photo 4x larger)",
        description="Run an exported model on one JPEG/PNG photo with the light runtime "
                    "(numpy, Pillow, one engine). What -o gets follows the model's output kind: an RGBA "
                    "cut-out for mask models (matte), the photo itself for image models (retouch, deblur; "
                    "upscale: output.scale times larger, so its input is at most 1024 px a side), the colour "
                    "photo for colorize (a grey or colour input; its own L* is kept). The "
                    "format follows the extension of -o; .jpg flattens transparency onto white. "
                    "--brightness/--contrast/--color adjust that result as 'edgephoto adjust' does.")
    p.add_argument("task", help="task name: matte, retouch, upscale, deblur, colorize, generate (any exported "
                                "under --dist)")
    p.add_argument("image", nargs="?", help="input photo (JPEG or PNG, at most 35 MB and 1024x1024 unless "
                                            "--downscale); generate takes none")
    p.add_argument("--n", type=int, default=16, help="generate: how many images (at most 100; default 16)")
    p.add_argument("--size", type=int, default=64, help="generate: 64, 256 or 1024 (through the 4x upscaler; "
                                                        "default 64)")
    p.add_argument("--seed", type=int, default=0, help="generate: the seed (the same seed, the same images)")
    p.add_argument("-o", "--output", help="main output, e.g. out.png (matte: RGBA cut-out; others: the photo)")
    p.add_argument("--mask", help="also write the full-resolution mask (8-bit grayscale PNG; mask models only)")
    p.add_argument("--brightness", help="adjust the -o result: -100..100 or auto (as in edgephoto adjust)")
    p.add_argument("--contrast", help="adjust the -o result: -100..100 or auto")
    p.add_argument("--color", help="adjust the -o result's colour balance: -100 (cool) .. 100 (warm) or auto")
    p.add_argument("--model", help="exported model directory (default: the shipped model under --dist); generate: "
                                   "a generator's directory or a pipeline .json")
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
    from .adjust import ORDER, parse_value

    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be at least 1")
    if args.task == "generate":
        return run_generate(args)
    if not args.image:
        raise UserError(f"give the photo to run {args.task} on: edgephoto run {args.task} PHOTO -o OUT")
    if not args.output and not args.mask:
        raise UserError("nothing to write: give -o OUT (and/or --mask MASK.png for a mask model)")
    wanted = {k: parse_value(k, getattr(args, k)) for k in ORDER if getattr(args, k, None) is not None}
    if wanted and not args.output:
        raise UserError("--brightness/--contrast/--color change the -o output: give -o OUT")
    model_dir = args.model or find_model(args.task, args.dist, args.format, args.precision)
    model = load(model_dir, engine=args.engine, threads=args.threads)
    if model.task != args.task:
        raise UserError(f"{model_dir} is a '{model.task}' model, not '{args.task}'")
    if args.mask and model.primary_output != "mask":
        raise UserError(f"--mask needs a model with a mask output; '{model.task}' gives an "
                        f"'{model.kind}' output (write it with -o)")
    res = model.predict(args.image, downscale=args.downscale, composite=not wanted)
    done = res.adjust(wanted) if wanted else []
    if args.output:
        res.save(args.output)
    if args.mask:
        res.save_output("mask", args.mask)
    if not args.quiet:
        ph = res.photo
        note = f" (downscaled from {ph.original_size[0]}x{ph.original_size[1]})" if ph.downscaled else ""
        outs = ", ".join(x for x in (args.output, args.mask) if x)
        adj = "".join(f", {d['name']} {d['value']}" for d in done)
        print(f"{args.image}: {ph.size[0]}x{ph.size[1]}{note} -> {outs} "
              f"[{model.manifest.get('variant', '?')} {model.manifest['format']}_{model.manifest['precision']} "
              f"on {model.engine.name}, {model.engine.threads} thread(s), {res.timings['total_s']:.3f} s{adj}]",
              file=sys.stderr)
    return 0


def run_generate(args) -> int:
    """``edgephoto run generate --n N --size S --seed K -o DIR/``: PNGs and a contact sheet."""
    import time
    from pathlib import Path

    from PIL import Image

    from ..errors import UserError
    from .imageio import save_atomic
    from . import find_model
    from .pipeline import check_count, contact_sheet, generator_chain, load_pipeline, open_generator

    if args.image:
        raise UserError("generate takes no photo: edgephoto run generate --n 16 --size 256 --seed 7 -o DIR/")
    if not args.output:
        raise UserError("give the output folder: -o DIR/")
    check_count(args.n)
    t0 = time.perf_counter()
    if args.model and args.model.endswith(".json"):        # a pipeline file (edgephoto chain)
        pipe = load_pipeline(args.model, args.engine, args.threads)
    elif args.model or args.format or args.precision:       # this generator, then the shipped upscaler(s)
        gen = args.model or find_model("generate", args.dist, args.format, args.precision)
        pipe = generator_chain(args.size, args.dist, generator=gen, engine=args.engine, threads=args.threads)
    else:
        pipe = open_generator(args.size, args.dist, args.engine, args.threads)
    if pipe.side != args.size:
        raise UserError(f"the pipeline {pipe.name} makes {pipe.side} px images, not --size {args.size}")
    images = pipe.generate(args.n, args.seed)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        save_atomic(Image.fromarray(im), out / f"seed{args.seed}_{i:03d}_{args.size}px.png")
    save_atomic(contact_sheet(images), out / f"seed{args.seed}_contact_sheet_{args.size}px.png")
    if not args.quiet:
        print(f"generate: {args.n} image(s) of seed {args.seed} at {args.size}x{args.size} -> {out}/ "
              f"(+ contact sheet) [{pipe.describe()}, {time.perf_counter() - t0:.2f} s]", file=sys.stderr)
    return 0


def run_adjust(args) -> int:
    from PIL import Image

    from .adjust import ORDER, adjust
    from .imageio import read_image, save_atomic

    wanted = {k: getattr(args, k) for k in ORDER if getattr(args, k) is not None}
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
