"""The reference CNNs of the device estimates, timed on this host in ncnn (the published figures' runtime).

``device_refs.toml`` holds what MobileNetV1/V2 and ResNet-50 take on a Raspberry Pi 4, Pi 5, Jetson
Nano CPU and a desktop x86 core in ncnn's own benchmark. Timing the same networks here, in the same
runtime at the same precision and thread count, gives a same-runtime ratio "device / this host" per
target, which ``estimates.py`` applies to our artifacts.

Build (torch + pnnx, build stage): each network of ``reference_nets.py`` is traced and converted by
pnnx into an ncnn ``.param`` under ``build/device_refs/``. Weights are not needed: like ncnn's
benchncnn, the timing loads the graph with ``DataReaderFromEmpty``. The int8 variant is the same graph
with ncnn's int8 flags on its convolutions (``8=2``; depthwise ``8=1``), as benchncnn's ``*_int8.param``
files are written.

    python -m edgephoto.bench.references --build           # build/device_refs/*.ncnn.param
    python -m edgephoto.bench.references --time --threads 1  # one JSON line: {model/precision: ms}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import UserError

def default_refs_dir() -> Path:
    """``build/device_refs`` of the checkout this package runs from, else ``~/.cache/edgephoto/device_refs``."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / "build" / "device_refs"
    return Path.home() / ".cache" / "edgephoto" / "device_refs"


REFS_DIR = default_refs_dir()
INPUT_BLOB, OUTPUT_BLOB = "in0", "out0"     # pnnx's blob names
INT8_FLAGS = {"Convolution": "8=2", "InnerProduct": "8=2", "ConvolutionDepthWise": "8=1"}
PRECISIONS = ("fp32", "int8")


def param_path(refs_dir: Path, model: str) -> Path:
    return Path(refs_dir) / f"{model}.ncnn.param"


def build_references(refs_dir: Path = REFS_DIR, models: Optional[List[str]] = None,
                     log=lambda m: print(m, file=sys.stderr)) -> List[Path]:
    """Trace each reference network and convert it with pnnx; skips what is already built."""
    import shutil
    import tempfile

    import torch

    from .reference_nets import INPUT_SIZE, REFERENCE_NETS, build

    pnnx = shutil.which("pnnx") or str(Path(sys.executable).parent / "pnnx")
    try:
        import pnnx as pnnx_pkg   # the wheel ships its binary inside the package
        pnnx = str(Path(pnnx_pkg.__file__).parent / "pnnx")
    except ImportError:
        pass
    if not Path(pnnx).is_file():
        raise UserError("pnnx is not installed: it converts the reference networks for ncnn "
                        "(pip install pnnx; `make setup` installs it)")
    refs_dir = Path(refs_dir)
    refs_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name in models or list(REFERENCE_NETS):
        dst = param_path(refs_dir, name)
        if dst.is_file():
            out.append(dst)
            continue
        log(f"[references] {name}: trace + pnnx -> {dst}")
        with tempfile.TemporaryDirectory(prefix="edgephoto-ref-") as tmp:
            traced = Path(tmp) / f"{name}.pt"
            with torch.no_grad():
                torch.jit.trace(build(name), torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)).save(str(traced))
            r = subprocess.run([pnnx, str(traced), f"inputshape=[1,3,{INPUT_SIZE},{INPUT_SIZE}]"],
                               cwd=tmp, capture_output=True, text=True)
            made = Path(tmp) / f"{name}.ncnn.param"
            if r.returncode != 0 or not made.is_file():
                raise UserError(f"pnnx failed on the reference network {name}: "
                                + " ".join((r.stderr or r.stdout).strip().splitlines()[-1:]))
            shutil.move(str(made), str(dst))   # the .bin (weights) is not kept: timing needs none
        out.append(dst)
    return out


def int8_param(text: str) -> str:
    """The fp32 graph with ncnn's int8 inference flags on every convolution and inner product."""
    lines = []
    for line in text.splitlines():
        flag = INT8_FLAGS.get(line.split(" ", 1)[0])
        lines.append(f"{line} {flag}" if flag else line)
    return "\n".join(lines) + "\n"


def time_reference(param: Path, precision: str, threads: int, runs: int = 10, warmup: int = 2) -> float:
    """Median ms of one 224x224 inference of the graph in ncnn (random input, empty weights)."""
    import tempfile

    import ncnn
    import numpy as np

    from .reference_nets import INPUT_SIZE
    from .probe import percentile

    text = Path(param).read_text()
    with tempfile.NamedTemporaryFile("w", suffix=".param", delete=False) as fh:
        fh.write(int8_param(text) if precision == "int8" else text)
    try:
        net = ncnn.Net()
        net.opt.num_threads = threads
        net.opt.use_int8_inference = precision == "int8"
        net.load_param(fh.name)
        net.load_model(ncnn.DataReaderFromEmpty())
        x = ncnn.Mat(np.random.default_rng(0).random((3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32))
        times = []
        for i in range(warmup + runs):
            t = time.perf_counter()
            ex = net.create_extractor()
            ex.input(INPUT_BLOB, x)
            ret, _ = ex.extract(OUTPUT_BLOB)
            if ret != 0:
                raise UserError(f"ncnn could not run {param} (extract returned {ret})")
            if i >= warmup:
                times.append(time.perf_counter() - t)
        return 1000.0 * percentile(times, 0.5)
    finally:
        os.unlink(fh.name)


def host_reference_ms(refs_dir: Path = REFS_DIR, threads: int = 1, runs: int = 10, timeout: float = 600,
                      log=lambda m: print(m, file=sys.stderr)) -> Dict[str, float]:
    """{"<model>/<precision>": median ms} of every built reference, timed in a fresh process
    (like the bench's probes: nothing else loaded, ``threads`` ncnn threads)."""
    try:
        import ncnn  # noqa: F401
    except ImportError:
        raise UserError("ncnn is not installed: the device estimates time their reference networks in "
                        "ncnn (pip install ncnn; `make setup` installs it)") from None
    build_references(refs_dir, log=log)
    repo = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=repo + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""))
    cmd = [sys.executable, "-m", "edgephoto.bench.references", "--time", "--refs", str(refs_dir),
           "--threads", str(threads), "--runs", str(runs)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise UserError(f"timing the reference networks took over {timeout:.0f} s") from None
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise UserError("timing the reference networks failed: "
                        + " ".join((r.stderr or "").strip().splitlines()[-1:])[:300])
    return json.loads(lines[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgephoto.bench.references", description=__doc__.split("\n")[0])
    ap.add_argument("--refs", type=Path, default=REFS_DIR, help=f"where the .param files are (default {REFS_DIR})")
    ap.add_argument("--build", action="store_true", help="convert the reference networks (torch + pnnx)")
    ap.add_argument("--time", action="store_true", help="time every built reference; prints one JSON line")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args(argv)
    try:
        if a.build:
            for p in build_references(a.refs):
                print(p)
        if a.time:
            params = sorted(Path(a.refs).glob("*.ncnn.param"))
            if not params:
                raise UserError(f"no reference networks under {a.refs} (run with --build first)")
            out = {}
            for p in params:
                for prec in PRECISIONS:
                    out[f"{p.name[:-len('.ncnn.param')]}/{prec}"] = round(time_reference(p, prec, a.threads, a.runs), 3)
            print(json.dumps(out))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
