"""``edgephoto bench``: measure every artifact in dist/ against budgets.toml (imports only argparse here)."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="measure size, latency, memory and quality of every exported model vs budgets.toml",
        description="One row per task x variant x format under --dist: size, end-to-end latency on a "
                    "1024x1024 photo through the runtime (decode included; 1 thread and all threads), "
                    "peak memory, test-split quality, parity, MACs and a pass/fail verdict per budget. "
                    "Writes <out>/bench.json and <out>/bench.md; exits 1 when a shipped variant misses "
                    "a budget.")
    p.add_argument("--dist", default="dist", help="artifact root (default: dist)")
    p.add_argument("--data", default="data", help="dataset root; the test split is read from "
                                                  "<data>/<task>/test (default: data)")
    p.add_argument("--task", help="only this task")
    p.add_argument("--budgets", default="budgets.toml", help="budgets file (default: budgets.toml)")
    p.add_argument("--target", default="default", help="budget target: default (this machine) or a device of edgephoto/bench/device_refs.toml "
                        "(rpi4, rpi5, jetson-nano-cpu, x86-1t, browser-wasm), judged on its estimate's upper "
                        "bound (default: default)")
    p.add_argument("--out", default="reports", help="report folder (default: reports)")
    p.add_argument("--runs", type=int, default=0, help="timed runs per measurement (default 10; 3 with --quick)")
    p.add_argument("--threads", type=int, default=None, help="the 'all threads' count (default: all cores)")
    p.add_argument("--limit", type=int, default=None,
                   help="score only the first N test images (default: all; 50 with --quick)")
    p.add_argument("--quick", action="store_true", help="fewer runs and test images (a smoke check)")
    p.add_argument("--browser", action="store_true",
                   help="also time each task's TF.js bundle (shipped tfjs_fp16) through web/edgephoto.js in "
                        "headless Chromium on the 1024x1024 photo, WebGL and wasm: load time + median of "
                        "--browser-runs runs after 1 warm-up; reported, not asserted (a 'Browser (headless "
                        "Chromium)' table). Needs node, chromium (/usr/bin/chromium or $EDGEPHOTO_CHROMIUM) "
                        "and `make web-deps`; without them a one-line note is recorded. Off by default; "
                        "make: `make bench BENCH_ARGS=--browser`")
    p.add_argument("--on-device", metavar="TARGET",
                   help="this machine IS the target (e.g. rpi4, with the runtime-only install): its latencies "
                        "are reported as measurements for that target, no estimates")
    p.add_argument("--no-estimates", action="store_true",
                   help="skip the per-target latency estimates (they time three reference networks in ncnn "
                        "first, about a minute)")
    p.add_argument("--browser-runs", type=int, default=3, help="timed runs per backend with --browser (default 3)")
    p.add_argument("--browser-backends", default="webgl,wasm",
                   help="TF.js backends with --browser, comma-separated (default: webgl,wasm)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from .run import run_bench, to_text

    report = run_bench(Path(args.dist), Path(args.data), args.task, Path(args.budgets), args.target,
                       Path(args.out), args.runs, args.quick, threads_all=args.threads, limit=args.limit,
                       browser=args.browser, on_device=args.on_device, estimates=not args.no_estimates,
                       browser_options={"runs": args.browser_runs,
                                        "backends": [b.strip() for b in args.browser_backends.split(",") if b.strip()]})
    print(to_text(report))
    print(f"\nwritten {Path(args.out) / 'bench.json'} and {Path(args.out) / 'bench.md'}")
    return 0 if report["passed"] else 1
