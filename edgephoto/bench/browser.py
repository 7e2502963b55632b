"""The bench's "browser" column: each task's TF.js bundle timed in headless Chromium (``bench --browser``).

For each task under dist/, the shipped ``tfjs_fp16`` bundle (else the shipped variant's first
``tfjs_*``, else the first ``tfjs_*`` found) runs through ``web/edgephoto.js`` on the bench's
1024x1024 photo in Debian's headless Chromium, driven by playwright-core (``web/browser-bench.mjs``,
the page ``web/bench.html``), once per TF.js backend (WebGL, wasm), each in a fresh page: the
model's load time, then the median of timed runs after warm-up. Reported, not asserted: no budget
applies. Without node, chromium, playwright-core or the TF.js files the result is a one-line note.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..runtime.manifest import MANIFEST_NAME, list_models

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
TFJS_NODE = REPO / "edgephoto" / "export" / "node" / "node_modules" / "@tensorflow"
VENDOR = ["tfjs/dist/tf.min.js", "tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
          "tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm", "tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
          "tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm"]
BACKENDS = ("webgl", "wasm")
BROWSER_NOTE = ("web/edgephoto.js in headless Chromium (playwright-core), one fresh page per backend; "
                "timed: model.predict on the task's 1024x1024 bench photo as ImageData (a 4x upscaler: 256x256 "
                "in; resize or tiles, inference, read-back, mask upsample / RGB output; the JPEG decode is not "
                "timed; a generator: 100 images through its upscaler chain); "
                "load = manifest + weights fetched from localhost + graph built; median of timed runs "
                "after warm-up")


def default_chromium() -> str:
    return os.environ.get("EDGEPHOTO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def find_bundles(dist: Path, task: Optional[str] = None, every: bool = False) -> List[Dict[str, Any]]:
    """One TF.js bundle per task: shipped tfjs_fp16, else a shipped tfjs_*, else tfjs_fp16, else any
    (``every``: all of them, e.g. the candidates of ``compress --fit --target browser-wasm``)."""
    by_task: Dict[str, List[Tuple[Tuple[bool, bool, str, str], Dict[str, Any]]]] = {}
    for e in list_models(dist, task, key_prefix="tfjs_"):
        b = {"task": e.task, "variant": e.variant, "key": e.key, "dir": e.dir, "shipped": e.shipped, "entry": e}
        if every:
            by_task.setdefault(f"{b['task']}/{b['variant']}/{b['key']}", []).append(((), b))
            continue
        rank = (not b["shipped"], b["key"] != "tfjs_fp16", b["variant"], b["key"])
        by_task.setdefault(b["task"], []).append((rank, b))
    return [min(c, key=lambda x: x[0])[1] for _, c in sorted(by_task.items())]


def _scale(bundle: Dict[str, Any]) -> int:
    """Output pixels per input pixel (4 for an upscaler: its photo is drawn at side / 4, as the bench's)."""
    return int(bundle["entry"].manifest["_spec"].output.scale or 1)


def _dist_url(dist: Path, model_dir: Path) -> str:
    """A model directory's manifest as the bench server serves it (dist/ mounted at /dist/)."""
    return "/dist/" + Path(model_dir).resolve().relative_to(Path(dist).resolve()).as_posix() + f"/{MANIFEST_NAME}"


def generator_job(dist: Path, bundle: Dict[str, Any], images: int, side: int) -> Optional[Dict[str, Any]]:
    """None for a photo model; for a generator {"n", "chain": upscaler manifest URLs, "side"}: the
    page's chain after this generator (``pipeline.compose_chain`` over the TF.js bundles, as
    web/make_index.py composes it), or {"error": why} when no TF.js upscaler reaches ``side``."""
    from ..runtime.pipeline import compose_chain
    if bundle["entry"].manifest["_spec"].input.kind != "latent":
        return None
    ups = list_models(dist, "upscale", key_prefix="tfjs_")
    try:
        steps = compose_chain(side, [bundle["entry"]] + ups)
    except ValueError as e:
        return {"error": str(e)}
    return {"n": int(images), "chain": [_dist_url(dist, e.dir) for e in steps[1:]], "side": side}


def _vendor_dir() -> Optional[Path]:
    """Where the TF.js UMD files are: web/vendor (make web-vendor), else the node packages."""
    if all((WEB / "vendor" / Path(v).name).is_file() for v in VENDOR):
        return WEB / "vendor"
    if all((TFJS_NODE / v).is_file() for v in VENDOR):
        return None  # copied file by file from TFJS_NODE
    raise FileNotFoundError("the TF.js files are missing (run `make node` or `make web-vendor`)")


def missing(chromium: Optional[str] = None) -> Optional[str]:
    """Why the browser bench cannot run here (one line), or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    exe = chromium or default_chromium()
    if not Path(exe).exists():
        return f"no chromium at {exe} (apt-get install -y chromium)"
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed (make web-deps)"
    try:
        _vendor_dir()
    except FileNotFoundError as e:
        return str(e)
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@contextlib.contextmanager
def serve(dist: Path, photos: Dict[str, Path]) -> Iterator[Tuple[str, Path]]:
    """A localhost server over a temp root: web/ (+ vendor/), dist/ (a link) and the photos."""
    root = Path(tempfile.mkdtemp(prefix="edgephoto-browser-"))
    try:
        (root / "web" / "vendor").mkdir(parents=True)
        for f in WEB.iterdir():
            if f.is_file() and f.suffix in (".js", ".html", ".css", ".json") and f.name != "package-lock.json":
                shutil.copy(f, root / "web" / f.name)
        vendor = _vendor_dir()
        for v in VENDOR:
            shutil.copy((vendor / Path(v).name) if vendor else TFJS_NODE / v, root / "web" / "vendor" / Path(v).name)
        (root / "dist").symlink_to(Path(dist).resolve(), target_is_directory=True)
        for name, p in photos.items():
            shutil.copy(p, root / name)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            yield f"http://127.0.0.1:{srv.server_address[1]}", root
        finally:
            srv.shutdown()
            srv.server_close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _backend_note(info: Dict[str, Any]) -> str:
    if "error" in info:
        return f"backend failed: {info['error']}"
    if info.get("backend") == "webgl":
        r = info.get("webgl_renderer") or "unknown renderer"
        sw = " (software rendering, no GPU)" if "swiftshader" in r.lower() else ""
        return f"WebGL{info.get('webgl_version', '')} on {r}{sw}, max texture {info.get('max_texture')}"
    if info.get("backend") == "wasm":
        simd = "SIMD" if info.get("wasm_simd") else "no SIMD"
        th = "multi-threaded" if info.get("wasm_threads") else \
            "1 thread (the page is not cross-origin isolated)"
        return f"wasm, {simd}, {th}"
    return str(info.get("backend", ""))


def bench_browser(dist: Path, data: Path, task: Optional[str] = None, backends: Sequence[str] = BACKENDS,
                  runs: int = 3, warmup: int = 1, side: int = 1024, chromium: Optional[str] = None,
                  timeout: float = 1800, photos: Optional[Dict[str, Path]] = None,
                  log=lambda msg: None, every: bool = False, images: int = 100,
                  gen_side: int = 256) -> Dict[str, Any]:
    """{"rows": [{task, variant, key, backend, load_s, median_s, runs, note}], "note": one line}.

    photos: task -> an image file (default: the bench's photo from ``make_bench_photo``); it is
    drawn at side x side in the page. A generator's bundle is timed making ``images`` images of
    ``gen_side`` px through the TF.js upscalers (``generator_job``). Never raises for a missing
    browser or a failing bundle.
    """
    bundles = find_bundles(dist, task, every)
    for b in bundles:   # a generator runs as the page's Generate tab: through the upscaler chain, no photo
        b["generate"] = generator_job(Path(dist), b, images, gen_side)
    if not bundles:
        return {"rows": [], "note": "not measured: no TF.js bundle (dist/<task>/<variant>/tfjs_*)"}
    chromium = chromium or default_chromium()
    why = missing(chromium)
    if why:
        return {"rows": [], "note": f"not measured: {why}"}
    from .run import make_bench_photo
    tmp = Path(tempfile.mkdtemp(prefix="edgephoto-browser-photo-"))
    try:
        files: Dict[str, Path] = {}
        for b in bundles:
            if b["generate"] is not None:   # no photo
                continue
            if photos and b["task"] in photos:
                files[f"{b['task']}{Path(photos[b['task']]).suffix}"] = Path(photos[b["task"]])
            else:
                files[f"{b['task']}.jpg"] = make_bench_photo(Path(data), b["task"], tmp / f"{b['task']}.jpg", side)
        names = {n.split(".")[0]: n for n in files}
        with serve(dist, files) as (base, _root):
            jobs = [{"task": b["task"], "variant": b["variant"], "key": b["key"], "manifest": _dist_url(dist, b["dir"]),
                     "photo": None if b["generate"] else "/" + names[b["task"]], "generate": b["generate"],
                     "side": max(1, side // _scale(b))}
                    for b in bundles if "error" not in (b["generate"] or {})]
            spec = {"base": base, "page": "/web/bench.html", "backends": list(backends), "runs": max(1, runs),
                    "warmup": max(0, warmup), "side": side, "timeout_s": timeout, "jobs": jobs}
            (tmp / "spec.json").write_text(json.dumps(spec))
            log(f"browser: {len(jobs)} bundle(s) x {', '.join(backends)} in headless Chromium, "
                f"{side}x{side}, {warmup}+{runs} runs ...")
            try:
                p = subprocess.run(["node", str(WEB / "browser-bench.mjs"), str(tmp / "spec.json"),
                                    "--chromium", chromium], cwd=REPO, capture_output=True, text=True,
                                   timeout=timeout + 60)
            except subprocess.TimeoutExpired:
                return {"rows": [], "note": f"not measured: the browser bench timed out after {timeout:.0f} s"}
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            tail = " ".join((p.stderr or "").strip().splitlines()[-1:])[:300]
            return {"rows": [], "note": f"not measured: the browser driver failed (exit {p.returncode}): {tail}"}
        out = json.loads(lines[-1])
        if "error" in out and not out.get("results"):
            return {"rows": [], "note": f"not measured: {out['error']}"}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    binfo = out.get("backends", {})
    rows: List[Dict[str, Any]] = []
    for be in backends:
        info = binfo.get(be, {"error": "not run"})
        results = [r for r in out.get("results", []) if r["backend"] == be]
        for b in bundles:
            r = next((x for x in results if (x["task"], x.get("variant", b["variant"]), x.get("key", b["key"]))
                      == (b["task"], b["variant"], b["key"])), None)
            row: Dict[str, Any] = {"task": b["task"], "variant": b["variant"], "key": b["key"], "backend": be,
                                   "load_s": None, "median_s": None, "runs": [], "note": _backend_note(info)}
            if r is not None and "error" not in r:
                row.update(load_s=round(r["load_s"], 4), median_s=round(r["median_s"], 4),
                           runs=[round(x, 4) for x in r["runs_s"]], mode=r.get("mode"),
                           num_tensors=r.get("numTensors"), init_s=round(info.get("init_s", 0.0), 3))
                if r.get("chain"):
                    row["note"] = f"{r['images']} images at {r['side']} px through {r['chain']}; {row['note']}"
            elif r is not None:
                row["note"] = f"error: {r['error']}"
            elif "error" in (b["generate"] or {}):
                row["note"] = f"error: {b['generate']['error']}"
            elif "error" not in info:
                row["note"] = "not run"
            rows.append(row)
            if row["median_s"] is not None:
                log(f"browser: {b['task']}/{b['variant']}/{b['key']} on {be}: load {row['load_s']:.2f} s, "
                    f"median {row['median_s']:.3f} s")
            else:
                log(f"browser: {b['task']}/{b['variant']}/{b['key']} on {be}: {row['note']}")
    note = f"Chromium {out.get('browser', '')}: {BROWSER_NOTE} ({max(1, runs)} runs after {max(0, warmup)} warm-up)"
    if side != 1024:
        note = note.replace("1024x1024", f"{side}x{side}")
    return {"rows": rows, "note": note}


# ----------------------------------------------------------------------------------- rendering
BROWSER_HEADERS = ["task", "variant", "format", "backend", "load s", "median s", "runs s", "note"]


def browser_table(report: Dict[str, Any]) -> List[List[str]]:
    out = []
    for r in report.get("browser") or []:
        f = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        out.append([r["task"], r["variant"], r["key"], r["backend"], f(r.get("load_s")), f(r.get("median_s")),
                    " ".join(f"{x:.3f}" for x in r.get("runs") or []) or "-", r.get("note", "")])
    return out


def browser_text(report: Dict[str, Any]) -> List[str]:
    if "browser" not in report:
        return []
    lines = ["", "Browser (headless Chromium), reported, not asserted:"]
    rows = browser_table(report)
    if rows:
        w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(BROWSER_HEADERS)]
        line = lambda cells: "  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()  # noqa: E731
        lines += [line(BROWSER_HEADERS), line(["-" * x for x in w])] + [line(r) for r in rows]
    lines.append(f"  {report.get('browser_note', '')}")
    return lines


def browser_markdown(report: Dict[str, Any]) -> List[str]:
    if "browser" not in report:
        return []
    md = ["", "## Browser (headless Chromium)", ""]
    rows = browser_table(report)
    if rows:
        md += ["| " + " | ".join(BROWSER_HEADERS) + " |", "|" + "---|" * len(BROWSER_HEADERS)]
        md += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
        md.append("")
    md.append(f"- {report.get('browser_note', '')}. Reported, not asserted (no budget applies).")
    return md

