"""The bench proper: rows, verdicts, compression table, and the three reports (stdout, JSON, Markdown)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .. import runtime
from ..errors import UserError
from ..runtime.manifest import MANIFEST_NAME, list_models, write_json_atomic
from ..utils.progress import Progress, log as _log
from .budgets import load_budgets, resolve

LATENCY_NOTE = ("end to end through edgephoto.runtime on a 1024x1024 JPEG (for a 4x upscaler a 256x256 one, whose output is "
                "1024x1024): decode (included) + inference "
                "as the manifest says (resize mode: one run + mask upsample to 1024x1024 + RGBA composite; "
                "tile mode: overlapping tiles at full resolution, blended); writing the output excluded; "
                "median and p90 of timed runs after warm-up, each thread count in a fresh process")
MEMORY_NOTE = "peak RSS (VmHWM) of a fresh process that loads the model and processes the 1024x1024 photo"
CLASSICAL_NOTE = ("classical rows (no network, Task.classical) are scored on the same test split and timed "
                  "end to end on the same 1024x1024 JPEG (decode + method) in a fresh process with numpy "
                  "limited to 1 thread (OMP/OpenBLAS/MKL_NUM_THREADS=1); size 0 (no model file)")
ROLE_NOTE = ("role: ours = exported from our checkpoints; peer / teacher = an imported published model "
             "(edgephoto import), measured exactly like ours but never shipped, so budget verdicts do not "
             "decide the bench for it; classical = the task's method without a network")



def _task(name: str):
    """The registered task (its metrics, document table), or None for an unknown task name."""
    try:
        from ..tasks import get_task
        return get_task(name)
    except (ImportError, KeyError):
        return None


def primary_metric(task_name: str) -> str:
    t = _task(task_name)
    return t.primary_metric if t else "mae"


def shown_metrics(task_name: str) -> List[str]:
    t = _task(task_name)
    return list(getattr(t, "report_metrics", None) or [primary_metric(task_name)])


def log(msg: str) -> None:
    _log(f"[bench] {msg}")   # above the rows' bar when one is drawn


def dir_size_mb(d: Path, manifest: Dict[str, Any]) -> float:
    """What a device downloads: the model file(s), not the manifest."""
    files = [p for p in d.rglob("*") if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")]
    return sum(p.stat().st_size for p in files) / 1e6


def find_rows(dist: Path, task: Optional[str]) -> List[Dict[str, Any]]:
    rows = []
    for entry in list_models(dist, task, include_broken=True):
        d, m = entry.dir, entry.manifest
        row: Dict[str, Any] = {"task": entry.task, "variant": entry.variant, "key": entry.key,
                               "dir": str(d), "status": "ok", "notes": []}
        if m is None:
            row.update(status="error", error=entry.error)
            rows.append(row)
            continue
        row.update(format=m["format"], precision=m["precision"], role=entry.role, shipped=entry.shipped,
                   size_mb=round(dir_size_mb(d, m), 4), params=m.get("params"),
                   parity=m.get("parity"), manifest_metrics=m.get("metrics"), _manifest=m)
        rows.append(row)
    rows += failed_export_rows(dist, task, rows)
    return sorted(rows, key=lambda r: (r["task"], r["variant"], r["key"]))


def failed_export_rows(dist: Path, task: Optional[str], rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Rows the exporter tried and failed (``export.json``; a failed row leaves no directory)."""
    from ..export import STATUS_NAME
    have = {(r["task"], r["variant"], r["key"]) for r in rows}
    shipped = {(r["task"], r["variant"]) for r in rows if r.get("shipped")}
    out = []
    for sp in sorted(Path(dist).glob(f"{task or '*'}/*/{STATUS_NAME}")):
        t, v = sp.parent.parent.name, sp.parent.name
        try:
            status = json.loads(sp.read_text()).get("rows", {})
        except (OSError, ValueError):
            continue
        for key, st in status.items():
            if st.get("status") == "failed" and (t, v, key) not in have:
                fmt, _, prec = key.partition("_")
                out.append({"task": t, "variant": v, "key": key, "dir": None, "status": "failed", "role": "ours",
                            "format": fmt, "precision": prec, "shipped": (t, v) in shipped,
                            "error": f"export failed: {st.get('reason', '')}", "notes": []})
    return out


def bench_photo(data: Path, task_name: str, tmp: Path) -> Path:
    """The task's timing photo (``Task.bench_side`` square: 1024, a 4x upscaler's 256) in ``tmp``."""
    t = _task(task_name)
    side = int(getattr(t, "bench_side", 1024) or 1024)
    return make_bench_photo(data, task_name, Path(tmp) / f"{task_name}_{side}.jpg", side)


def make_bench_photo(data: Path, task_name: str, out: Path, side: int = 1024) -> Path:
    """A side x side JPEG from the first test image (real content), else a generated scene."""
    from PIL import Image
    src = None
    t = _task(task_name)
    inputs = (getattr(t, "data_layout", None) or {}).get("inputs", "images")
    for folder in (Path(data) / task_name / "test" / inputs, Path(data) / "test" / inputs):
        if folder.is_dir():
            imgs = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if imgs:
                src = imgs[0]
                break
    if src is not None:
        with Image.open(src) as im:
            im = im.convert("RGB").resize((side, side), Image.BICUBIC)
    else:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:side, 0:side] / side
        a = np.stack([xx, yy, 0.5 + 0.5 * np.sin(6 * xx * yy)], -1) * 200
        a[(xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1] = rng.integers(0, 255, 3)
        im = Image.fromarray(a.astype(np.uint8))
    im.save(out, quality=92)
    return out


def probe(model_dir: Optional[str], image: Optional[Path], threads: int, runs: int, warmup: int,
          timeout: float = 900, classical: Optional[str] = None,
          generate: Optional[Tuple[int, int, Path]] = None) -> Dict[str, Any]:
    """Time a model directory (or, with ``classical=TASK``, the task's classical method at 1 numpy
    thread) in a fresh process; ``generate=(n, side, dist)``: a generator's ``n`` images through its
    chain to ``side`` px, per run."""
    repo = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    what = ["--classical", classical] if classical else ["--model", model_dir]
    if classical:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    inp = ["--generate", str(generate[0]), "--side", str(generate[1]), "--dist", str(generate[2])] \
        if generate else ["--image", str(image)]
    cmd = [sys.executable, "-m", "edgephoto.bench.probe", *what, *inp,
           "--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"probe timed out after {timeout:.0f} s"}
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = " ".join((r.stderr or "").strip().splitlines()[-1:])[:300]
        return {"error": f"probe failed (exit {r.returncode}): {tail}"}
    return json.loads(lines[-1])


def generator_quality(model_dir: str, data: Path, task_name: str, split: str = "test") -> Dict[str, Any]:
    """A generator's samples through the runtime (``Task.sample_images``' seed and count), scored by
    the task's collapse detector and KID against the split's real images."""
    from ..tasks import get_task
    task = get_task(task_name)
    from ..tasks.generate import EVAL_SAMPLES, EVAL_SEED
    samples = runtime.load(model_dir, threads=1).generate(EVAL_SAMPLES, EVAL_SEED)
    return task.sample_metrics(samples, data, split)


def quality(model_dir: str, data: Path, task_name: str, limit: Optional[int], split: str = "test") -> Dict[str, Any]:
    """Task metrics on the held-out split through the runtime, at the ground truth's resolution."""
    from ..metrics import METRICS
    pairs, load_target, metric_fn, groups = None, None, None, None
    try:  # the task's own definitions when the tasks package is importable (it needs no torch)
        from ..tasks import get_task
        task = get_task(task_name)
        pairs = task.eval_pairs(data, split)
        load_target, metric_fn, groups = task.load_target, task.metrics, task.sample_groups(data, split)
    except ImportError:
        pass
    model = runtime.load(model_dir)
    if pairs is None:
        from ..data.folders import find_split, load_gray
        pairs = list(find_split(data, split).pairs)
        load_target = load_gray
    if metric_fn is None:
        metric_fn = METRICS.get(model.kind)
    return score_pairs(pairs[:limit] if limit else pairs,
                       lambda img: model.predict(img, downscale=True, composite=False).outputs[model.primary_output],
                       load_target, metric_fn, split, groups)


def score_pairs(pairs, predict, load_target, metric_fn, split: str,
                groups: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Metrics of ``predict(input path)`` against the targets, at the ground truth's resolution;
    with ``groups`` ({input stem: group}), also per group under ``by_group``."""
    preds, targets = [], []
    for img, tgt in pairs:
        g = load_target(tgt)
        p = np.asarray(predict(img), np.float32)
        if p.shape[:2] != g.shape[:2]:   # the runtime's bilinear resize, clipped to [0, 1]
            from ..runtime.model import resize_map
            p = np.clip(resize_map(p, g.shape[:2]), 0.0, 1.0)
        preds.append(p)
        targets.append(g)
    out: Dict[str, Any] = {k: float(v) for k, v in metric_fn(preds, targets).items()}
    out.update(split=split, images=len(pairs))
    if groups:
        names = [groups.get(Path(img).stem) for img, _ in pairs]
        out["by_group"] = {}
        for g in sorted({n for n in names if n}):
            idx = [i for i, n in enumerate(names) if n == g]
            m = {k: float(v) for k, v in metric_fn([preds[i] for i in idx], [targets[i] for i in idx]).items()}
            out["by_group"][g] = {**m, "images": len(idx)}
    return out


def classical_quality(data: Path, task_name: str, limit: Optional[int], split: str = "test",
                      method: Optional[str] = None) -> Dict[str, Any]:
    """A classical method of the task (default: its first) scored like a model row: same pairs,
    same reader, same metrics."""
    from ..runtime.imageio import read_image
    from ..tasks import get_task
    task = get_task(task_name)
    fn = task.classical_method(method)
    pairs = task.eval_pairs(data, split)
    return score_pairs(pairs[:limit] if limit else pairs, lambda img: fn(read_image(img, downscale=True).rgb),
                       task.load_target, task.metrics, split, task.sample_groups(data, split))


def classical_rows(tasks: List[str], data: Path, photos: Dict[str, Path], tmp: Path, runs: int, warmup: int,
                   limit: Optional[int]) -> List[Dict[str, Any]]:
    """One row per classical method of each benched task (``Task.classical_methods``: retouch's
    auto adjustments, upscale's bicubic, ...)."""
    out = []
    for name in tasks:
        t = _task(name)
        for method, (_, note) in (t.classical_methods() if t is not None else {}).items():
            out.append(classical_row(name, method, note, data, photos, tmp, runs, warmup, limit))
    return out


def classical_row(name: str, method: str, note: str, data: Path, photos: Dict[str, Path], tmp: Path,
                  runs: int, warmup: int, limit: Optional[int]) -> Dict[str, Any]:
    """One classical method of a task: latency in a fresh process, quality on the test split."""
    row: Dict[str, Any] = {"task": name, "variant": method, "key": "classical", "dir": None,
                           "status": "classical", "role": "classical", "format": "classical",
                           "precision": "-", "shipped": False, "size_mb": 0.0, "params": 0, "macs": None,
                           "parity": None, "engine": "numpy", "notes": [note]}
    tag = f"{name}/{method} (classical)"
    photo = photos.get(name) or photos.setdefault(name, bench_photo(data, name, tmp))
    log(f"{tag}: latency, 1 thread, {warmup}+{runs} runs ...")
    p = probe(None, photo, 1, runs, warmup, classical=f"{name}:{method}")
    if "error" in p:
        row.update(status="error", error=p["error"])
        log(f"{tag}: error: {p['error']}")
        return row
    row["latency"] = {"threads_1": {k: p[k] for k in ("threads", "median_s", "p90_s", "runs",
                                                      "breakdown_median_s", "load_s")}}
    row["peak_mem_mb"] = round(p["peak_rss_mb"], 1)
    log(f"{tag}: quality on the test split{f' (first {limit})' if limit else ''} ...")
    try:
        row["quality"] = classical_quality(data / name if (data / name).is_dir() else data, name, limit,
                                           method=method)
    except UserError as e:
        row["quality"] = None
        row["notes"].append(f"quality not measured: {e}")
    q = row.get("quality") or {}
    pm = primary_metric(name)
    log(f"{tag}: 1 thread {p['median_s']:.3f} s" + (f", {pm} {q[pm]:.4f}" if pm in q else ""))
    return row


def _onnx_macs(d: Path, m: Dict[str, Any]) -> Optional[float]:
    if m.get("macs"):
        return float(m["macs"])
    f = d / m["file"]
    if m["format"] != "onnx" or not f.is_file():
        return None
    try:
        from ..export.macs import count_macs
        return float(count_macs(f)) or None
    except Exception:  # onnx not installed (device) or an op the counter does not know
        return None


def verdicts(row: Dict[str, Any], b: Dict[str, Any], fp32_quality: Optional[float],
             target: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
    """{budget: {limit, value, pass}} for what applies to this row; value None = not measured. For a
    device ``target`` (not ``default``) latencies are the row's estimate's upper bound for it."""
    v: Dict[str, Dict[str, Any]] = {}
    key = f"{row.get('format')}_{row.get('precision')}"
    lt = "threads_all" if str(b.get("latency_threads", 1)) == "all" else "threads_1"
    device = (row.get("estimates") or {}).get(target) if target else None

    def seconds(measured_here: Optional[float]) -> Optional[float]:
        """A latency budget's value: for a device target its estimate's upper bound (or measurement)."""
        if target and target != "default":
            return None if device is None else device["high_s"]
        return measured_here

    def add(name, limit, value, ok=None):
        if limit is None:
            return
        v[name] = {"limit": limit, "value": value,
                   "pass": (value is not None and value <= limit) if ok is None else ok}

    runnable = row.get("format") in ("onnx", "tflite")
    lat = (row.get("latency") or {}).get(lt) or {}
    add("size_mb", b.get("size_mb"), row.get("size_mb"))
    if runnable:
        med = lat.get("median_s")
        add("latency_s", b.get("latency_s"), seconds(med))
    quality = row.get("quality") or {}
    if row.get("precision") == "int8" and b.get("int8_quality_rel_loss") is not None and runnable:
        # relative loss of the task's primary metric vs. the fp32 model it came from
        from ..metrics import metric_info
        pm = primary_metric(row["task"])
        q = quality.get(pm)
        rel = None
        if q is not None and fp32_quality:
            rel = metric_info(pm).worse_by(q, fp32_quality) / abs(fp32_quality)
        else:
            # no fp32 row of this variant in the bench: the drop export measured against PyTorch
            # fp32 on its parity images (test split), which the manifest records
            par = row.get("parity") or {}
            ref = par.get(f"{pm}_torch")
            if par.get("quality_metric") == pm and par.get("quality_drop") is not None and ref:
                rel = float(par["quality_drop"]) / abs(float(ref))
        add("int8_quality_rel_loss", b["int8_quality_rel_loss"], None if rel is None else round(rel, 4))
    if row.get("shipped"):
        if key == b.get("ship_format"):
            add("shipped_size_mb", b.get("shipped_size_mb"), row.get("size_mb"))
            med1 = ((row.get("latency") or {}).get("threads_1") or {}).get("median_s")
            add("latency_1024_s", b.get("latency_1024_s"), seconds(med1))
            # a generator: generate_images at generate_side, the chain included
            add("generate_s", b.get("generate_s"), seconds(med1))
        if runnable:
            add("peak_mem_mb", b.get("peak_mem_mb"), row.get("peak_mem_mb"))
            # optional quality floors: max_<metric> / min_<metric> for any metric the task reports
            for name, limit in b.items():
                metric = name[4:]
                if name.startswith("max_") and metric in quality:
                    add(name, limit, quality[metric])
                elif name.startswith("min_") and metric in quality:
                    add(name, limit, quality[metric], ok=quality[metric] >= limit)
    return v


def run_bench(dist: Path, data: Path, task: Optional[str], budgets_path: Optional[Path], target: str,
              out: Path, runs: int, quick: bool, threads_all: Optional[int] = None,
              limit: Optional[int] = None, browser: bool = False,
              browser_options: Optional[Dict[str, Any]] = None, on_device: Optional[str] = None,
              estimates: bool = True, host_reference_ms: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """browser: also time each task's TF.js bundle in headless Chromium (``bench_browser``,
    ``browser_options`` passed to it): ``report["browser"]`` rows + ``report["browser_note"]``.
    estimates: per-target latency estimates (``estimates.py``; ``host_reference_ms``: reuse these
    reference timings instead of timing them); on_device: this machine is that target, so its
    latencies are measurements."""
    dist, data, out = Path(dist), Path(data), Path(out)
    if not dist.is_dir():
        raise UserError(f"no artifacts folder {dist}/ (run `make export`, or pass --dist)")
    budgets = load_budgets(budgets_path)
    resolve(budgets, target, task or "")  # an unknown target fails now, not after the measurements
    rows = find_rows(dist, task)
    if not rows:
        raise UserError(f"no exported models under {dist}/" + (f"{task}/" if task else "")
                        + " (run `make export`, or pass --dist)")
    n_all = threads_all or (os.cpu_count() or 1)
    warmup = 1 if quick else 2
    runs = max(1, runs if runs else (3 if quick else 10))
    limit = limit if limit else (50 if quick else None)
    t_start = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="edgephoto-bench-"))
    photos: Dict[str, Path] = {}
    bar = Progress("bench", len(rows), what="row")   # a bar over the rows (plain lines in a log)
    try:
        for i, row in enumerate(rows, 1):
            tag = f"({i}/{len(rows)}) {row['task']}/{row['variant']}/{row['key']}"
            bar.update(i - 1, f"now {row['task']}/{row['variant']}/{row['key']}")
            if row["status"] in ("error", "failed"):
                log(f"{tag}: {row['status']}: {row['error']}")
                continue
            m = row.pop("_manifest")
            row["macs"] = _onnx_macs(Path(row["dir"]), m)
            if row["format"] not in ("onnx", "tflite"):
                row["status"] = "size-only"
                row["notes"].append(f"{row['format']} is not run by the Python runtime "
                                    f"(checked by the exporter; parity in the manifest)")
                log(f"{tag}: {row['size_mb']:.2f} MB ({row['format']}: size only)")
                continue
            if not runtime.engines.can_run(row["format"]):
                row["status"] = "error"
                row["error"] = f"no engine for {row['format']} installed"
                log(f"{tag}: skipped, no engine for {row['format']}")
                continue
            latent = (m.get("input") or {}).get("kind") == "latent"   # a generator: no photo
            b_row = resolve(budgets, target, row["task"])
            gen = (int(b_row.get("generate_images", 100)), int(b_row.get("generate_side", 64)), dist) if latent else None
            photo = None if latent else \
                (photos.get(row["task"]) or photos.setdefault(row["task"], bench_photo(data, row["task"], tmp)))
            row["latency"] = {}
            for name, n in (("threads_1", 1), ("threads_all", n_all)):
                if name == "threads_all" and n == 1:
                    row["latency"][name] = dict(row["latency"]["threads_1"])
                    continue
                log(f"{tag}: latency, {n} thread(s), {warmup}+{runs} runs ...")
                p = probe(row["dir"], photo, n, runs, warmup, generate=gen)
                if "error" in p:
                    row.update(status="error", error=p["error"])
                    break
                row["engine"] = p["engine"]
                if latent:
                    row.update(chain=p["chain"], chain_mb=p["chain_mb"], images=p["images"], side=p["side"])
                row["latency"][name] = {k: p[k] for k in ("threads", "median_s", "p90_s", "runs",
                                                          "breakdown_median_s", "load_s")}
                if n == 1:
                    row["peak_mem_mb"] = round(p["peak_rss_mb"], 1)
            if row["status"] == "error":
                log(f"{tag}: error: {row['error']}")
                continue
            if latent and row.get("shipped") and row["key"] == b_row.get("ship_format") and not quick:
                big = probe(row["dir"], None, 1, 1, 1, generate=(16, 1024, dist))   # reported, not judged
                row["latency"]["generate_16_at_1024"] = {k: big[k] for k in ("median_s", "chain", "chain_mb")
                                                         if k in big} or {"error": big.get("error")}
            log(f"{tag}: quality on the test split{f' (first {limit})' if limit else ''} ...")
            task_data = data / row["task"] if (data / row["task"]).is_dir() else data
            try:
                row["quality"] = generator_quality(row["dir"], task_data, row["task"]) if latent else \
                    quality(row["dir"], task_data, row["task"], limit)
            except UserError as e:
                row["quality"] = None
                row["notes"].append(f"quality not measured: {e}")
            l1 = row["latency"]["threads_1"]
            q = row.get("quality") or {}
            pm = primary_metric(row["task"])
            log(f"{tag}: {row['size_mb']:.2f} MB, 1 thread {l1['median_s']:.3f} s, "
                f"{row['peak_mem_mb']:.0f} MB peak" + (f", {pm} {q[pm]:.4f}" if pm in q else ""))
        bar.update(len(rows))
        rows += classical_rows(sorted({r["task"] for r in rows}), data, photos, tmp, runs, warmup, limit)
        # MACs of tflite rows: the same network's ONNX count
        for row in rows:
            if row.get("macs") is None and row["status"] not in ("error", "classical"):
                same = [r.get("macs") for r in rows if r.get("variant") == row["variant"]
                        and r["task"] == row["task"] and r.get("macs")]
                row["macs"] = same[0] if same else None
        browser_rows, browser_note = None, None
        if browser:  # reported, not asserted: never changes the verdict of a Python-runtime row
            from .browser import bench_browser
            b = bench_browser(dist, data, task, log=log, **(browser_options or {}))
            browser_rows, browser_note = b["rows"], b["note"]
            if not b["rows"]:
                log(f"browser: {b['note']}")
        device_block = None
        if estimates or on_device:
            from .estimates import add_estimates
            device_block = add_estimates(rows, budgets, resolve, browser_rows=browser_rows, on_device=on_device,
                                         host_ms=host_reference_ms, log=log)
        # verdicts
        failed_shipped = []
        for row in rows:
            b = resolve(budgets, target, row["task"])
            if row.get("role") == "classical":   # no model: nothing to judge
                row["verdict"], row["pass"] = {}, row["status"] != "error"
                continue
            if row["status"] in ("error", "failed"):
                row["verdict"], row["pass"] = {}, False
                # a failed export of a format the device does not run is reported, not a failure
                if row.get("shipped") and (row["status"] == "error" or row["key"] == b.get("ship_format")):
                    failed_shipped.append(f"{row['task']}/{row['variant']}/{row['key']} ({row['status']})")
                continue
            fp32 = _fp32_reference(rows, row)
            row["verdict"] = verdicts(row, device_budgets(budgets, b, target, row["task"]), fp32, target)
            row["pass"] = all(x["pass"] for x in row["verdict"].values())
            if not row["pass"] and row.get("role", "ours") == "ours":   # a peer's verdicts are informative
                row["status"] = "fail"
                if row.get("shipped"):
                    missed = [k for k, x in row["verdict"].items() if not x["pass"]]
                    failed_shipped.append(f"{row['task']}/{row['variant']}/{row['key']} ({', '.join(missed)})")
        report = {
            "edgephoto_bench": 1,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                        "cpu_count": os.cpu_count(), "python": platform.python_version()},
            "target": target, "budgets_file": budgets.get("_path", "built-in defaults"),
            "budgets": {t: resolve(budgets, target, t) for t in sorted({r["task"] for r in rows})},
            "dist": str(dist), "data": str(data), "quick": quick, "runs": runs, "warmup": warmup,
            "threads_all": n_all, "latency_note": LATENCY_NOTE, "memory_note": MEMORY_NOTE,
            "classical_note": CLASSICAL_NOTE, "role_note": ROLE_NOTE,
            "rows": rows,
            "compression_table": compression_table(rows),
            "failed_shipped": failed_shipped, "passed": not failed_shipped,
            "device_estimates": device_block,
            "seconds": round(time.time() - t_start, 1),
        }
        if browser:
            report["browser"], report["browser_note"] = browser_rows, browser_note
    finally:
        bar.close()
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "bench.json", report)
    md = to_markdown(report)
    tmp_md = out / ".bench.md.tmp"
    tmp_md.write_text(md)
    os.replace(tmp_md, out / "bench.md")
    return report


HOST_LATENCY_TARGETS = ("latency_1024_s", "generate_s")   # a task's own targets, stated for 1 thread here


def device_budgets(budgets: Dict[str, Any], b: Dict[str, Any], target: str, task: str) -> Dict[str, Any]:
    """The budgets a device target judges: a task's own latency targets are stated for 1 thread on
    this machine, so on a device only the general ``latency_s`` and what the file sets under
    ``[targets.<target>.tasks.<task>]`` apply."""
    if target == "default":
        return b
    own = ((budgets.get("targets", {}).get(target) or {}).get("tasks") or {}).get(task) or {}
    return {k: v for k, v in b.items() if k not in HOST_LATENCY_TARGETS or k in own}


def _fp32_reference(rows: List[Dict[str, Any]], row: Dict[str, Any]) -> Optional[float]:
    """Primary metric of the fp32 model an int8 row came from: same variant, same format, else onnx."""
    if row.get("precision") != "int8":
        return None
    pm = primary_metric(row["task"])
    same = {r["key"]: r for r in rows if r.get("variant") == row.get("variant") and r["task"] == row["task"]}
    for key in (f"{row['format']}_fp32", "onnx_fp32", "tflite_fp32"):
        q = (same.get(key) or {}).get("quality") or {}
        if q.get(pm) is not None:
            return q[pm]
    return None


def compression_table(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The document's compression table of each benched task (``Task.compression_rows``), ours beside."""
    out = []
    for task in sorted({r["task"] for r in rows}):
        t = _task(task)
        metrics = shown_metrics(task)
        for label, variant, key, doc_size, doc_loss in (getattr(t, "compression_rows", None) or ()):
            cands = [r for r in rows if r["task"] == task and r.get("variant") == variant and r["key"] == key
                     and r["status"] != "failed" and r.get("role", "ours") == "ours"]
            if not cands and key.endswith("fp32"):  # fall back to the other fp32 format
                cands = [r for r in rows if r["task"] == task and r.get("variant") == variant
                         and r["key"] == "tflite_fp32" and r.get("role", "ours") == "ours"]
            r = cands[0] if cands else None
            q = (r or {}).get("quality") or {}
            out.append({"task": task, "network": label, "variant": variant, "key": r["key"] if r else key,
                        "built": r is not None, "size_mb": r.get("size_mb") if r else None,
                        "metrics": {m: q.get(m) for m in metrics},
                        "document_size": doc_size, "document_loss": doc_loss})
    return out


# ----------------------------------------------------------------------------------- rendering
def _f(x, fmt="{:.3f}", none="-"):
    return none if x is None else fmt.format(x)


def table_rows(report: Dict[str, Any]) -> List[List[str]]:
    out = []
    for r in report["rows"]:
        lat = r.get("latency") or {}
        l1, la = lat.get("threads_1") or {}, lat.get("threads_all") or {}
        q = r.get("quality") or {}
        par = r.get("parity") or {}
        parity = par.get("max_abs") if par.get("max_abs") is not None else par.get("quality_drop")
        shown = " / ".join(f"{m} {_f(q.get(m), '{:.4g}')}" for m in shown_metrics(r["task"])) if q else "-"
        failed = [k for k, v in (r.get("verdict") or {}).items() if not v["pass"]]
        role = r.get("role", "ours")
        verdict = (f"{r['status']}: " + r.get("error", "")) if r["status"] in ("error", "failed") else \
            "-" if role == "classical" else ("pass" if not failed else "FAIL " + ",".join(failed))
        if role in ("peer", "teacher") and r["status"] not in ("error", "failed"):
            verdict += " (not judged)"
        out.append([
            r["task"], r.get("variant", "?") + (" *" if r.get("shipped") else ""), r["key"], r["status"], role,
            "-" if role == "classical" else _f(r.get("size_mb"), "{:.3f}"),
            f"{_f(l1.get('median_s'))}/{_f(l1.get('p90_s'))}" if l1 else "-",
            f"{_f(la.get('median_s'))}/{_f(la.get('p90_s'))}" if la else "-",
            _f(r.get("peak_mem_mb"), "{:.0f}"),
            shown,
            _f(parity, "{:.2g}"), _f(None if r.get("macs") is None else r["macs"] / 1e9, "{:.2f}"),
            verdict])
    return out


HEADERS = ["task", "variant", "format", "status", "role", "MB", "1 thread med/p90 s", "all threads med/p90 s",
           "peak MB", "test quality", "parity max", "GMAC", "budgets"]


def group_tables(report: Dict[str, Any]) -> List[Tuple[str, List[str], List[List[str]]]]:
    """Per task whose rows were scored per group (deblur: blur type): (title, headers, rows) of
    the primary metric in each group, ours, peers and classical rows together."""
    out = []
    for task in sorted({r["task"] for r in report["rows"]}):
        rows = [r for r in report["rows"] if r["task"] == task and ((r.get("quality") or {}).get("by_group"))]
        if not rows:
            continue
        t = _task(task)
        metric = primary_metric(task)
        groups = sorted({g for r in rows for g in r["quality"]["by_group"]})
        counts = {g: max(r["quality"]["by_group"].get(g, {}).get("images", 0) for r in rows) for g in groups}
        headers = ["variant", "format", "role"] + [f"{g} ({counts[g]})" for g in groups]
        body = [[r.get("variant", "?") + (" *" if r.get("shipped") else ""), r["key"], r.get("role", "ours")]
                + [_f((r["quality"]["by_group"].get(g) or {}).get(metric), "{:.4g}") for g in groups] for r in rows]
        out.append((f"{task}: test {metric} by {getattr(t, 'group_label', 'group')} (images per group)",
                    headers, body))
    return out


def chain_lines(report: Dict[str, Any]) -> List[str]:
    """One line per generator row: its run of N images through the chain, and 16 at 1024 px."""
    out = []
    for r in report["rows"]:
        if not r.get("chain"):
            continue
        l1 = ((r.get("latency") or {}).get("threads_1") or {}).get("median_s")
        big = (r.get("latency") or {}).get("generate_16_at_1024") or {}
        line = (f"{r['task']}/{r['variant']}/{r['key']}: {r['images']} images at {r['side']} px in "
                f"{_f(l1, '{:.2f}')} s on 1 thread through {r['chain']} ({_f(r.get('chain_mb'), '{:.2f}')} MB in all)")
        if big.get("median_s") is not None:
            line += (f"; 16 at 1024 px: {big['median_s']:.2f} s through {big.get('chain')} "
                     f"({_f(big.get('chain_mb'), '{:.2f}')} MB)")
        out.append(line)
    return out


ESTIMATES_TITLE = "Per-target latency (estimates unless marked measured; verdict on the upper bound vs latency_s)"


def estimates_text(report: Dict[str, Any]) -> List[str]:
    from .estimates import estimate_table, factor_lines
    block = report.get("device_estimates")
    if not block:
        return []
    headers, body = estimate_table(report)
    out = ["", ESTIMATES_TITLE + ":"]
    if body:
        w = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
        out += ["  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)) for cells in [headers] + body]
    out += ["  factors: " + x for x in factor_lines(report)]
    return out


def estimates_markdown(report: Dict[str, Any]) -> List[str]:
    from .estimates import estimate_table, factor_lines
    block = report.get("device_estimates")
    if not block:
        return []
    headers, body = estimate_table(report)
    md = ["", f"## {ESTIMATES_TITLE}", ""]
    if body:
        md += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        md += ["| " + " | ".join(b) + " |" for b in body]
    md += ["", f"- Method: {block['method']}"] + [f"- {x}" for x in factor_lines(report)]
    return md


def to_text(report: Dict[str, Any]) -> str:
    rows = table_rows(report)
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    line = lambda cells: "  ".join(c.ljust(w[i]) for i, c in enumerate(cells))  # noqa: E731
    lines = [line(HEADERS), line(["-" * x for x in w])] + [line(r) for r in rows]
    lines.append("")
    lines.append(f"latency: {report['latency_note']}; all threads = {report['threads_all']}")
    if any(r.get("role", "ours") != "ours" for r in report["rows"]):
        lines.append(report.get("role_note", ROLE_NOTE))
    if any(r.get("role") == "classical" for r in report["rows"]):
        lines.append(report.get("classical_note", CLASSICAL_NOTE))
    lines.append(f"target: {report['target']} ({report['budgets_file']}); * = shipped variant")
    ct = report["compression_table"]
    if ct:
        lines += ["", "compression table (test split, through the runtime):"]
        for c in ct:
            ms = "  ".join(f"{k} {_f(v, '{:.4g}')}" for k, v in c["metrics"].items())
            lines.append(f"  {c['task']}: {c['network']:<50} " + (f"{c['size_mb']:.2f} MB  {ms}"
                                                                  if c["built"] else "not built")
                         + f"   (document: {c['document_size']}, loss {_f(c['document_loss'], '{:g}')})")
    chains = chain_lines(report)
    if chains:
        lines += ["", "generation runs (the latency columns above):"] + ["  " + c for c in chains]
    for title, headers, body in group_tables(report):
        w2 = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
        lines += ["", title + ":"] + ["  " + "  ".join(c.ljust(w2[i]) for i, c in enumerate(cells))
                                      for cells in [headers] + body]
    lines += estimates_text(report)
    from .browser import browser_text
    lines += browser_text(report)
    lines.append("")
    lines.append("PASS: every shipped variant meets its budgets" if report["passed"] else
                 "FAIL: shipped variant(s) miss a budget: " + "; ".join(report["failed_shipped"]))
    return "\n".join(lines)


def to_markdown(report: Dict[str, Any]) -> str:
    rows = table_rows(report)
    md = ["# edgephoto bench", "",
          f"Target `{report['target']}` (budgets: `{report['budgets_file']}`), {report['machine']['cpu_count']} "
          f"CPU(s), {report['machine']['platform']}, Python {report['machine']['python']}; {report['created']}.",
          "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    md += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
    md += ["", f"- Latency: {report['latency_note']}. All threads = {report['threads_all']}.",
           f"- Peak memory: {report['memory_note']}.",
           "- Test quality: the task's metrics (matte: MAE, max F-measure; retouch: L1, PSNR dB; all of "
           "them are in the JSON) on the held-out test split, through the runtime, at the ground "
           "truth's resolution. Parity max: from the manifest, the largest absolute difference of the "
           "output vs the PyTorch fp32 model on the parity images (the manifest also holds the mean "
           "difference and, for quantized rows, each metric's drop). `*` = shipped variant."]
    if any(r.get("role", "ours") != "ours" for r in report["rows"]):
        md.append(f"- Role: {report.get('role_note', ROLE_NOTE)}.")
    if any(r.get("role") == "classical" for r in report["rows"]):
        md.append(f"- Classical: {report.get('classical_note', CLASSICAL_NOTE)}.")
    md.append("")
    for task, b in report["budgets"].items():
        md.append(f"- Budgets for `{task}`: " + ", ".join(f"{k} = {v}" for k, v in b.items()))
    for task in sorted({c["task"] for c in report["compression_table"]}):
        table = [c for c in report["compression_table"] if c["task"] == task]
        names = list(table[0]["metrics"])
        md += ["", f"## Compression table: {task} (BRIEF.md, with our numbers)", "",
               "| network | artifact | size (MB) | " + " | ".join(f"test {m}" for m in names)
               + " | document size | document loss |", "|---|---|---|" + "---|" * len(names) + "---|---|"]
        for c in table:
            vals = " | ".join(_f(c["metrics"][m], "{:.4g}") if c["built"] else "not built" for m in names)
            size = f"{c['size_mb']:.2f}" if c["built"] else "not built"
            md.append(f"| {c['network']} | {c['variant']}/{c['key']} | {size} | {vals} | "
                      f"{c['document_size']} | {_f(c['document_loss'], '{:g}')} |")
        md += ["", "The document's \"loss\" is its own test loss; compare trends, not values."]
    chains = chain_lines(report)
    if chains:
        md += ["", "## Generation runs (the latency columns)", ""] + [f"- {c}" for c in chains]
    for title, headers, body in group_tables(report):
        md += ["", f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        md += ["| " + " | ".join(b) + " |" for b in body]
    md += estimates_markdown(report)
    from .browser import browser_markdown
    md += browser_markdown(report)
    md += ["", "**PASS**: every shipped variant meets its budgets." if report["passed"] else
           "**FAIL**: " + "; ".join(report["failed_shipped"]), ""]
    return "\n".join(md)
