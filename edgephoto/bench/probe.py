"""Measure one model in a fresh process: ``python -m edgephoto.bench.probe --model DIR --image IMG``.

Loads the model with ``--threads``, runs ``--warmup`` untimed then ``--runs`` timed end-to-end
predictions (decode + resize + infer + mask upsample + RGBA composite; writing the output file is
excluded) and prints one JSON line: per-run seconds, median, p90, the stage breakdown and the
process's peak RSS (``VmHWM``), which is the runtime's peak memory for that photo.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def _status_mb(field: str = "VmRSS") -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux: VmHWM, which starts afresh at exec; ``ru_maxrss`` does not
    (it keeps the RSS the forked child had before exec, i.e. the size of the parent bench)."""
    hwm = _status_mb("VmHWM")
    if hwm == hwm:  # not NaN
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return peak / 1024.0 if sys.platform == "darwin" else peak


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgephoto.bench.probe")
    ap.add_argument("--model", help="exported model directory")
    ap.add_argument("--classical", metavar="TASK:METHOD",
                    help="instead of a model: a classical method of the task (Task.classical_methods; "
                         "TASK alone: its first), decode included")
    ap.add_argument("--image", help="the photo to time (models that take one)")
    ap.add_argument("--generate", type=int, metavar="N",
                    help="a generator (latent input): time N images per run, through the chain to --side")
    ap.add_argument("--side", type=int, default=64, help="with --generate: 64, 256 or 1024")
    ap.add_argument("--dist", default="dist", help="with --generate: where the chain's upscaler is")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engine", default=None)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args(argv)
    if bool(a.model) == bool(a.classical):
        ap.error("give exactly one of --model and --classical")
    if a.classical:
        return classical_main(a)
    if a.generate:
        return generate_main(a)
    if not a.image:
        ap.error("--image is required (or --generate N for a generator)")
    t0 = time.perf_counter()
    from .. import runtime
    try:
        model = runtime.load(a.model, engine=a.engine, threads=a.threads)
        load_s = time.perf_counter() - t0
        rss_loaded = _status_mb()
        for _ in range(a.warmup):
            model.predict(a.image)
        times, parts = [], {"decode_s": [], "infer_s": [], "post_s": []}
        for _ in range(a.runs):
            t = time.perf_counter()
            r = model.predict(a.image)
            times.append(time.perf_counter() - t)
            for k in parts:
                parts[k].append(r.timings[k])
    except runtime.UserError as e:
        print(json.dumps({"error": str(e)}))
        return 0
    peak = peak_rss_mb()
    print(json.dumps({
        "engine": model.engine.name, "threads": model.engine.threads, "runs": len(times),
        "times_s": [round(x, 5) for x in times], "median_s": percentile(times, 0.5),
        "p90_s": percentile(times, 0.9), "load_s": load_s,
        "breakdown_median_s": {k: percentile(v, 0.5) for k, v in parts.items()},
        "rss_after_load_mb": rss_loaded, "peak_rss_mb": peak}))
    return 0


def generate_main(a) -> int:
    """Time ``N`` images of a generator through its chain to ``--side`` (the pipeline under
    ``--dist`` with this generator as the first step), model loading excluded."""
    t0 = time.perf_counter()
    from .. import runtime
    from ..runtime.pipeline import generator_chain
    try:
        pipe = generator_chain(a.side, a.dist, generator=a.model, engine=a.engine, threads=a.threads)
        load_s = time.perf_counter() - t0
        rss_loaded = _status_mb()
        for i in range(a.warmup):
            pipe.generate(min(a.generate, 4), seed=1000 + i)
        times = []
        for i in range(a.runs):
            t = time.perf_counter()
            pipe.generate(a.generate, seed=i)
            times.append(time.perf_counter() - t)
    except runtime.UserError as e:
        print(json.dumps({"error": str(e)}))
        return 0
    print(json.dumps({
        "engine": pipe.models[0].engine.name, "threads": pipe.models[0].engine.threads, "runs": len(times),
        "times_s": [round(x, 5) for x in times], "median_s": percentile(times, 0.5),
        "p90_s": percentile(times, 0.9), "load_s": load_s, "images": a.generate, "side": a.side,
        "chain": pipe.describe(), "chain_mb": round(sum(_model_mb(m) for m in pipe.models), 3),
        "breakdown_median_s": {}, "rss_after_load_mb": rss_loaded, "peak_rss_mb": peak_rss_mb()}))
    return 0


def _model_mb(model) -> float:
    return float(model.manifest.get("bytes") or 0) / 1e6


def classical_main(a) -> int:
    """Time ``Task.classical`` end to end like a model: decode + method; numpy's own threads are
    whatever the environment allows (the bench runs this with OMP/OpenBLAS/MKL at 1 thread)."""
    t0 = time.perf_counter()
    from ..runtime.imageio import read_image
    from ..tasks import get_task
    name, _, method = a.classical.partition(":")
    task = get_task(name)
    fn = task.classical_method(method)
    load_s = time.perf_counter() - t0
    rss_loaded = _status_mb()

    def once():
        t = time.perf_counter()
        photo = read_image(a.image)
        t1 = time.perf_counter()
        fn(photo.rgb)
        t2 = time.perf_counter()
        return t2 - t, {"decode_s": t1 - t, "infer_s": t2 - t1, "post_s": 0.0}

    for _ in range(a.warmup):
        once()
    times, parts = [], {"decode_s": [], "infer_s": [], "post_s": []}
    for _ in range(a.runs):
        dt, br = once()
        times.append(dt)
        for k in parts:
            parts[k].append(br[k])
    print(json.dumps({
        "engine": "numpy", "threads": a.threads, "runs": len(times),
        "times_s": [round(x, 5) for x in times], "median_s": percentile(times, 0.5),
        "p90_s": percentile(times, 0.9), "load_s": load_s,
        "breakdown_median_s": {k: percentile(v, 0.5) for k, v in parts.items()},
        "rss_after_load_mb": rss_loaded, "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
