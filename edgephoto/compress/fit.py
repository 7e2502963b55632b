"""``edgephoto compress --task T --fit --target rpi4``: ship the best quality that meets a device's budgets.

It searches what the pipeline already knows how to make, and measures every candidate:

- **networks**: every checkpoint under ``runs/<task>/`` (teacher, students, distilled variants) and
  the committed starter weights;
- **input size**: for a resize-mode model its trained size and 25% either side (on the input's
  pixel multiple); for a tiled model the tile side (``--sizes`` overrides);
- **precision**: fp32, int8 (static QDQ) and int8 with a float32 fallback for the layers int8 hurts
  most (``int8_sensitive_nodes``), as ONNX; for ``browser-wasm`` the TF.js bundle (fp16, uint8).

Each candidate is exported like any artifact (parity-checked), scored on the **val** split through
the runtime, timed here on 1 thread in a fresh process, and its latency estimated for the target
(``bench/estimates.py``: an estimate with its stated uncertainty; ``browser-wasm``: measured in
headless Chromium). The pick is the best val quality whose size and whose latency's *upper bound*
fit the target's budgets (``budgets.toml``: ``size_mb``, ``latency_s``); ties go to the faster.
It is copied to ``<dist>/<task>/fit-<target>/<format>_<precision>/`` (``edgephoto run --model`` that
folder) and the explored frontier is written to ``<reports>/fit/<task>-<target>.{json,md,png}``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..errors import UserError

FIT_VARIANT = "fit-{target}"
SIZE_STEPS = (0.75, 1.0, 1.25)          # resize-mode input sizes around the trained one
FALLBACK_SHARE = 0.1                     # int8 fallback: this share of the weighted layers (at least 1)
DEVICE_KEYS = ("onnx_fp32", "onnx_int8")
BROWSER_KEYS = ("tfjs_fp16", "tfjs_uint8")


@dataclass
class Candidate:
    network: str                 # the checkpoint's variant name
    checkpoint: str
    size: int
    key: str                     # format_precision
    fallback: int = 0            # int8 layers left in float32
    dir: Optional[str] = None
    size_mb: Optional[float] = None
    here_s: Optional[float] = None
    estimate: Dict[str, Any] = field(default_factory=dict)
    quality: Dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    why: str = ""                # what rules it out (or that it fits)
    fits: bool = False
    frontier: bool = False

    @property
    def label(self) -> str:
        fb = f"+fp32x{self.fallback}" if self.fallback else ""
        return f"{self.network}@{self.size} {self.key}{fb}"


def checkpoints(task, runs: Path, only: Optional[Sequence[str]] = None) -> Dict[str, Path]:
    """{variant: ckpt} of every trained network of the task, plus the starter weights (``only``: these)."""
    from ..weights import starter_path
    found = {p.parent.name: p for p in sorted((Path(runs) / task.name).glob("*/ckpt.pt"))
             if not p.parent.name.startswith("fit-")}
    starter = starter_path(task.name)
    if starter.is_file() and "starter" not in found:
        found["starter"] = starter
    if only:
        missing = [n for n in only if n not in found]
        if missing:
            raise UserError(f"no network {', '.join(missing)} to fit (have: {', '.join(sorted(found)) or 'none'})")
        found = {n: found[n] for n in only}
    if not found:
        raise UserError(f"nothing to fit: no checkpoints under {Path(runs) / task.name}/ and no starter weights "
                        f"for '{task.name}' (run `make train compress TASK={task.name}` first)")
    return found


def sizes_for(task, trained: Optional[int], override: Optional[Sequence[int]] = None) -> List[int]:
    """Input sizes to try: ``override``, else around the trained size (resize mode), else the task's."""
    if override:
        return sorted(set(int(s) for s in override))
    spec = task.spec
    if spec.input.kind == "latent" or spec.inference.mode != "resize":
        return [int(task.input_size)]
    base, m = int(trained or task.input_size), int(spec.input.multiple_of or 8)
    return sorted({max(m, int(round(base * k / m)) * m) for k in SIZE_STEPS})


def _quality(model_dir: Path, data: Path, task, limit: Optional[int]) -> Dict[str, Any]:
    from ..bench.run import generator_quality, quality
    if task.spec.input.kind == "latent":
        return generator_quality(str(model_dir), data, task.name, split="val")
    return quality(str(model_dir), data, task.name, limit, split="val")


def frontier(cands: List[Candidate], better) -> None:
    """Mark the candidates no other beats on both quality and estimated latency (upper bound)."""
    ok = [c for c in cands if c.status == "ok" and c.estimate.get("high_s") is not None and c.quality]
    for c in ok:
        c.frontier = not any(o is not c and o.estimate["high_s"] <= c.estimate["high_s"]
                             and better(o.quality, c.quality) for o in ok)


def fit(task_name: str, target: str, runs: Path, data: Path, dist: Path, reports: Path,
        budgets_path: Path = Path("budgets.toml"), sizes: Optional[Sequence[int]] = None,
        limit: Optional[int] = 20, runs_timed: int = 3, networks: Optional[Sequence[str]] = None,
        log=print) -> Dict[str, Any]:
    """Search, measure, pick and ship; returns the fit report (also written as JSON/Markdown/PNG)."""
    from ..bench.budgets import load_budgets, resolve
    from ..bench.estimates import add_estimates, load_refs
    from ..bench.run import bench_photo, dir_size_mb, probe
    from ..export import export_variant
    from .qat import WEIGHTED
    from ..metrics import metric_info
    from ..runtime.manifest import MANIFEST_NAME, write_json_atomic
    from ..tasks import get_task
    from ..train.checkpoint import load_model

    task = get_task(task_name)
    targets, _ = load_refs()
    if target not in targets:
        raise UserError(f"unknown target '{target}' (known: {', '.join(sorted(targets))})")
    budgets = load_budgets(budgets_path)
    b = resolve(budgets, target, task.name)
    size_budget, latency_budget = float(b["size_mb"]), float(b["latency_s"])
    browser = targets[target].method == "browser"
    keys = BROWSER_KEYS if browser else DEVICE_KEYS
    pm = task.primary_metric
    info = metric_info(pm)

    def better(qa, qb):
        return info.sort_key(qa[pm]) < info.sort_key(qb[pm])

    t0 = time.time()
    work = Path(tempfile.mkdtemp(prefix=f"edgephoto-fit-{task.name}-"))
    cands: List[Candidate] = []
    try:
        plan = []
        for net, ckpt in checkpoints(task, runs, networks).items():
            model, state = load_model(ckpt)
            weighted = sum(isinstance(m, WEIGHTED) for m in model.modules())
            for s in sizes_for(task, state.get("input_size"), sizes):
                plan.append((net, ckpt, s, weighted))
        log(f"[fit {task.name} -> {target}] {len(plan)} network x size combinations x {', '.join(keys)}"
            + ("" if browser else " (+ int8 with float32 fallback)") + f"; budgets: {size_budget:g} MB, "
            f"{latency_budget:g} s on the estimate's upper bound; quality: val {pm}"
            + (f" (first {limit})" if limit else ""))
        for i, (net, ckpt, s, weighted) in enumerate(plan, 1):
            variant = f"{net}@{s}"
            log(f"[fit {task.name}] ({i}/{len(plan)}) export {variant}: {', '.join(keys)}")
            jobs = [(list(keys), 0)]
            if not browser and task.spec.input.kind != "latent":
                jobs.append((["onnx_int8"], max(1, int(round(FALLBACK_SHARE * weighted)))))
            for fmts, fb in jobs:
                name = variant + (f"-fb{fb}" if fb else "")
                res = export_variant(task.name, ckpt, name, out_root=work, formats=fmts, data_root=data,
                                     size=s if task.spec.input.kind != "latent" else None, int8_fallback=fb,
                                     progress=lambda m: None)
                for r in res:
                    c = Candidate(net, str(ckpt), s, r.key, fb)
                    if r.status != "ok":
                        c.status, c.why = "failed", f"export failed: {r.reason}"
                    else:
                        c.dir = str(r.dir)
                        c.size_mb = round(dir_size_mb(Path(r.dir), r.manifest), 4)
                    cands.append(c)
        # time here (1 thread, fresh process) + score on val
        photo_dir = work / "_photos"
        photo_dir.mkdir()
        photo = None if task.spec.input.kind == "latent" else bench_photo(data, task.name, photo_dir)
        gen = (int(b.get("generate_images", 100)), int(b.get("generate_side", 64)), dist) \
            if task.spec.input.kind == "latent" else None
        live = [c for c in cands if c.status == "ok"]
        for i, c in enumerate(live, 1):
            if not browser:
                p = probe(c.dir, photo, 1, runs_timed, 1, generate=gen)
                if "error" in p:
                    c.status, c.why = "error", p["error"]
                    continue
                c.here_s = round(p["median_s"], 4)
            try:
                c.quality = {k: v for k, v in _quality(Path(c.dir), data, task, limit).items()
                             if isinstance(v, (int, float))}
            except UserError as e:
                c.status, c.why = "error", f"quality not measured: {e}"
                continue
            log(f"[fit {task.name}] ({i}/{len(live)}) {c.label}: {c.size_mb:.2f} MB"
                + (f", {c.here_s:.3f} s here" if c.here_s is not None else "") + f", val {pm} {c.quality.get(pm, float('nan')):.4f}")
        # estimates for the target (the bench's code; browser-wasm: measured in Chromium)
        browser_rows = None
        if browser:
            from ..bench.browser import bench_browser
            br = bench_browser(work, data, task.name, backends=["wasm"], runs=runs_timed, log=log, every=True)
            browser_rows = br["rows"]
            if not browser_rows:
                raise UserError(f"browser-wasm is measured in headless Chromium, and it could not be: {br['note']}")
            by = {(r["variant"], r["key"]): r for r in browser_rows}
            for c in live:
                r = by.get((Path(c.dir).parent.name, c.key))
                c.here_s = None if not r else r.get("median_s")
        rows = [{"task": task.name, "variant": Path(c.dir).parent.name, "key": c.key, "format": c.key.split("_")[0],
                 "precision": c.key.split("_")[1], "status": "ok", "role": "ours",
                 "latency": {"threads_1": {"median_s": c.here_s}}} for c in live if c.status == "ok"]
        # a browser target is measured: no reference networks to time for it
        block = add_estimates(rows, budgets, resolve, browser_rows=browser_rows, log=log,
                              host_ms={} if browser else None)
        for c, row in zip([c for c in live if c.status == "ok"], rows):
            c.estimate = (row.get("estimates") or {}).get(target) or {}
        for c in cands:
            if c.status != "ok":
                continue
            high = c.estimate.get("high_s")
            reasons = []
            if c.size_mb is None or c.size_mb > size_budget:
                reasons.append(f"{c.size_mb:.2f} MB > {size_budget:g} MB")
            if high is None:
                reasons.append("no latency estimate for this target")
            elif high > latency_budget:
                reasons.append(f"latency up to {high:.3g} s > {latency_budget:g} s")
            if pm not in c.quality:
                reasons.append(f"no val {pm}")
            c.fits = not reasons
            c.why = "; ".join(reasons) if reasons else "fits"
        frontier(cands, better)
        fitting = [c for c in cands if c.fits]
        if not fitting:
            pick = None
        else:
            pick = sorted(fitting, key=lambda c: (info.sort_key(c.quality[pm]), c.estimate["high_s"], c.size_mb))[0]
        shipped_dir = None
        if pick is not None:
            dest = Path(dist) / task.name / FIT_VARIANT.format(target=target) / pick.key
            staging = dest.parent / f".tmp-{pick.key}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(pick.dir, staging)
            man = json.loads((staging / MANIFEST_NAME).read_text())
            man.update(variant=FIT_VARIANT.format(target=target), shipped=False,
                       fit={"target": target, "network": pick.network, "size": pick.size, "fallback": pick.fallback,
                            "why": _why(pick, fitting, cands, pm, size_budget, latency_budget, target)})
            write_json_atomic(staging / MANIFEST_NAME, man)
            if dest.exists():
                shutil.rmtree(dest)
            staging.rename(dest)
            shipped_dir = str(dest)
        report = {"task": task.name, "target": target, "target_name": targets[target].name, "metric": pm,
                  "split": "val", "limit": limit, "budgets": {"size_mb": size_budget, "latency_s": latency_budget},
                  "device_estimates": block, "candidates": [asdict(c) | {"label": c.label} for c in cands],
                  "pick": None if pick is None else pick.label, "shipped_dir": shipped_dir,
                  "why": None if pick is None else _why(pick, fitting, cands, pm, size_budget, latency_budget, target),
                  "seconds": round(time.time() - t0, 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(reports) / "fit"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{task.name}-{target}"
    report["plot"] = _plot(report, out / f"{stem}.png")
    write_json_atomic(out / f"{stem}.json", report)
    md = to_markdown(report)
    (out / f".{stem}.md.tmp").write_text(md)
    (out / f".{stem}.md.tmp").replace(out / f"{stem}.md")
    log(to_text(report))
    log(f"[fit {task.name}] written {out / (stem + '.json')}, .md" + (", .png" if report["plot"] else ""))
    if pick is None:
        raise UserError(f"no candidate meets {target}'s budgets ({size_budget:g} MB, {latency_budget:g} s); "
                        f"the frontier is in {out / (stem + '.md')}")
    return report


def _why(pick: Candidate, fitting: List[Candidate], cands: List[Candidate], pm: str, size_b: float,
         lat_b: float, target: str) -> str:
    """One paragraph: why this candidate, and what the better-scoring ones missed."""
    from ..metrics import metric_info
    info = metric_info(pm)
    better = [c for c in cands if c.status == "ok" and pm in c.quality and not c.fits
              and info.sort_key(c.quality[pm]) < info.sort_key(pick.quality[pm])]
    e = pick.estimate
    s = (f"{pick.label}: the best val {pm} ({pick.quality[pm]:.4g}) of the {len(fitting)} candidate(s) that fit "
         f"{target} ({pick.size_mb:.2f} MB <= {size_b:g} MB; {e.get('kind', 'estimate')} {e.get('median_s', 0):.3g} s, "
         f"upper bound {e.get('high_s', 0):.3g} s <= {lat_b:g} s).")
    if better:
        s += " Better-scoring but out: " + "; ".join(f"{c.label} ({pm} {c.quality[pm]:.4g}: {c.why})" for c in better[:4]) + "."
    else:
        s += " No candidate scores better on val."
    return s


# ------------------------------------------------------------------------------------ rendering
HEADERS = ["candidate", "MB", "here 1T s", "target s (range)", "val quality", "frontier", "verdict"]


def fit_cells(report: Dict[str, Any]) -> List[List[str]]:
    """The frontier table's rows (HEADERS), for the Markdown here and the report page."""
    pm = report["metric"]
    out = []
    for c in report["candidates"]:
        e = c.get("estimate") or {}
        rng = "-" if not e else (f"{e['median_s']:.3g} measured" if e["kind"] == "measured"
                                 else f"{e['median_s']:.3g} ({e['low_s']:.3g}-{e['high_s']:.3g})")
        q = c.get("quality") or {}
        out.append([c["label"] + (" <- pick" if c["label"] == report.get("pick") else ""),
                    "-" if c.get("size_mb") is None else f"{c['size_mb']:.3f}",
                    "-" if c.get("here_s") is None else f"{c['here_s']:.3g}", rng,
                    "-" if pm not in q else f"{pm} {q[pm]:.4g}", "yes" if c.get("frontier") else "",
                    _short(c["why"] if c["status"] == "ok" else f"{c['status']}: {c['why']}")])
    return out


def _short(text: str, n: int = 110) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def to_text(report: Dict[str, Any]) -> str:
    cells = fit_cells(report)
    w = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(HEADERS)]
    lines = [f"fit {report['task']} -> {report['target']} ({report['target_name']}):"]
    lines += ["  " + "  ".join(x.ljust(w[i]) for i, x in enumerate(r)) for r in [HEADERS] + cells]
    lines.append("pick: " + (report["why"] or "none fits"))
    return "\n".join(lines)


def to_markdown(report: Dict[str, Any]) -> str:
    md = [f"# Fit: {report['task']} -> {report['target']}", "",
          f"Target: {report['target_name']}. Budgets: {report['budgets']['size_mb']:g} MB, "
          f"{report['budgets']['latency_s']:g} s on the latency's upper bound. Quality: {report['metric']} on the "
          f"val split{' (first ' + str(report['limit']) + ')' if report.get('limit') else ''}, through the runtime.",
          "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    md += ["| " + " | ".join(x.replace("|", "/") for x in r) + " |" for r in fit_cells(report)]
    md += ["", f"**Pick.** {report['why'] or 'No candidate fits.'}", ""]
    if report.get("plot"):
        md += [f"![quality against {report['target']} latency]({Path(report['plot']).name})", ""]
    method = (report.get("device_estimates") or {}).get("method")
    if method:
        md += [f"Latency: {method}", ""]
    return "\n".join(md)


def _plot(report: Dict[str, Any], path: Path) -> Optional[str]:
    """Quality against the target's latency (error bars: the estimate's range), frontier joined."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    pm = report["metric"]
    pts = [c for c in report["candidates"] if c.get("estimate") and pm in (c.get("quality") or {})]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for c in pts:
        e = c["estimate"]
        colour = "tab:green" if c["fits"] else "tab:gray"
        marker = "*" if c["label"] == report.get("pick") else ("o" if "int8" in c["key"] else "s")
        ax.errorbar(e["median_s"], c["quality"][pm], xerr=[[e["median_s"] - e["low_s"]], [e["high_s"] - e["median_s"]]],
                    fmt=marker, color=colour, ms=12 if marker == "*" else 6, capsize=3, alpha=0.9)
        ax.annotate(c["label"], (e["median_s"], c["quality"][pm]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    front = sorted((c for c in pts if c.get("frontier")), key=lambda c: c["estimate"]["high_s"])
    if len(front) > 1:
        ax.plot([c["estimate"]["median_s"] for c in front], [c["quality"][pm] for c in front], "--", color="tab:blue",
                lw=1, label="frontier")
    ax.axvline(report["budgets"]["latency_s"], color="tab:red", lw=1, ls=":", label=f"budget {report['budgets']['latency_s']:g} s")
    ax.set_xscale("log")
    ax.set_xlabel(f"latency on {report['target']} (s; estimate, bars = stated range)")
    ax.set_ylabel(f"val {pm}")
    ax.set_title(f"fit {report['task']} -> {report['target']}: green fits, star = pick", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return str(path)
