"""Per-target latency estimates: what an artifact would take on a Raspberry Pi 4 / 5, a Jetson Nano's CPU,
a desktop x86 core, or in a browser, from what it takes here.

The method, per target, precision (int8; everything else counts as fp32) and thread count:

    factor   = geometric mean over the reference CNNs of (published device ms / ms timed here)
    estimate = our artifact's median here on 1 thread x factor,  +/- the target's uncertainty

The published figures (``device_refs.toml``, each with its source, model, precision, runtime,
threads and clock) are ncnn's own benchmark; ``references.py`` times the same networks here in
ncnn, so the factor is a same-runtime ratio of the two CPUs. Applying it to an onnxruntime or LiteRT
artifact assumes that engine is as fast relative to ncnn on the device as it is here: that and
the spread of the references' factors are what the stated uncertainty covers (about +/-40%).
``browser-wasm`` is not an estimate but a measurement: the TF.js bundle in headless Chromium on this
host (``edgephoto bench --browser``). ``edgephoto bench --on-device TARGET`` on the device itself
(runtime-only install) measures instead of estimating, and says so.

Budget verdicts per target use the estimate's upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import UserError

REFS_FILE = Path(__file__).with_name("device_refs.toml")
METHOD_NOTE = ("estimate = latency measured here (1 thread) x factor; factor = geometric mean over reference "
               "CNNs of (published device ms / the same network timed here), both in ncnn at the same precision "
               "and thread count (device_refs.toml cites each figure); +/- the target's stated uncertainty, "
               "which covers the engine difference (our artifacts run in onnxruntime / LiteRT) and the "
               "references' spread. The verdict uses the upper bound. Measured rows say 'measured'.")


@dataclass(frozen=True)
class Reference:
    model: str
    precision: str
    device: str
    threads: Any            # int, or "all" where the source gives no count
    ms: float
    runtime: str
    clock: str
    source: str
    device_name: str = ""
    input: int = 224
    exclude: str = ""       # why a copied figure is not used for a factor (e.g. a noisy run)

    @property
    def network(self) -> str:
        """The reference network (ncnn's ``mobilenet_int8`` is ``mobilenet`` at int8)."""
        return self.model[:-len("_int8")] if self.model.endswith("_int8") else self.model


@dataclass(frozen=True)
class Target:
    id: str
    name: str
    threads: int                 # the thread count the verdict is for (the device's cores)
    method: str = "references"   # references | browser
    uncertainty: float = 0.4     # the base relative error of a same-runtime factor


@dataclass
class Factor:
    value: float
    uncertainty: float
    refs: List[Dict[str, Any]] = field(default_factory=list)


def load_refs(path: Path = REFS_FILE) -> tuple[Dict[str, Target], List[Reference]]:
    """The targets and published reference figures of ``path`` (one clear error if it is unreadable)."""
    try:
        import tomllib
    except ModuleNotFoundError:   # Python 3.10
        raise UserError("the device estimates need Python 3.11 or newer (tomllib)") from None
    try:
        raw = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"cannot read the device reference file {path}: {e}") from None
    targets = {tid: Target(id=tid, name=t["name"], threads=int(t["threads"]), method=t.get("method", "references"),
                           uncertainty=float(t.get("uncertainty", 0.4)))
               for tid, t in (raw.get("targets") or {}).items()}
    known = {f.name for f in Reference.__dataclass_fields__.values()}
    refs = [Reference(**{k: v for k, v in r.items() if k in known}) for r in raw.get("reference", [])]
    return targets, refs


def ref_precision(row_precision: Optional[str]) -> str:
    """Which references an artifact is compared with: int8 for int8, fp32 otherwise (fp16 weights run
    as fp32 arithmetic on these CPUs' engines)."""
    return "int8" if row_precision == "int8" else "fp32"


def factor(target: Target, refs: List[Reference], host_ms: Dict[str, float], precision: str,
           threads: Optional[int] = None) -> Optional[Factor]:
    """The same-runtime factor of ``target`` at ``precision`` and ``threads`` (default: the target's),
    or None when no reference has both a published figure and a host timing."""
    threads = target.threads if threads is None else threads
    used = []
    for r in refs:
        key = f"{r.network}/{r.precision}"
        if r.device != target.id or r.runtime != "ncnn" or r.precision != precision or r.threads != threads \
                or r.exclude or not host_ms.get(key):
            continue
        used.append({"model": r.network, "precision": r.precision, "threads": r.threads, "device_ms": r.ms,
                     "host_ms": host_ms[key], "factor": round(r.ms / host_ms[key], 4), "clock": r.clock,
                     "source": r.source})
    if not used:
        return None
    logs = [math.log(u["factor"]) for u in used]
    mean = sum(logs) / len(logs)
    spread = math.exp(math.sqrt(sum((x - mean) ** 2 for x in logs) / len(logs))) - 1.0
    return Factor(value=math.exp(mean), uncertainty=math.sqrt(target.uncertainty ** 2 + spread ** 2), refs=used)


def calibrate(targets: Dict[str, Target], refs: List[Reference], host_ms: Dict[str, float]) -> Dict[str, Any]:
    """{target: {precision: {factor, uncertainty, threads, refs}}} of every reference-method target."""
    out: Dict[str, Any] = {}
    for t in targets.values():
        if t.method != "references":
            continue
        out[t.id] = {}
        for prec in ("fp32", "int8"):
            f = factor(t, refs, host_ms, prec)
            out[t.id][prec] = None if f is None else {"factor": round(f.value, 4), "uncertainty": round(f.uncertainty, 3),
                                                      "threads": t.threads, "refs": f.refs}
    return out


def _entry(median: float, u: float, kind: str, source: str, threads: int, budget: Optional[float],
           factor_value: Optional[float] = None) -> Dict[str, Any]:
    low, high = median * (1 - u), median * (1 + u)
    return {"median_s": round(median, 6), "low_s": round(low, 6), "high_s": round(high, 6), "uncertainty": round(u, 3),
            "factor": None if factor_value is None else round(factor_value, 4), "threads": threads, "kind": kind,
            "source": source, "budget_s": budget, "pass": None if budget is None else high <= budget}


def row_estimates(row: Dict[str, Any], targets: Dict[str, Target], calibration: Dict[str, Any],
                  budget_for, browser_rows: Optional[List[Dict[str, Any]]] = None,
                  on_device: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
    """{target: estimate} of one bench row. ``budget_for(target_id) -> seconds or None`` is the
    latency budget the verdict compares the upper bound with."""
    out: Dict[str, Dict[str, Any]] = {}
    lat = row.get("latency") or {}
    here_1 = (lat.get("threads_1") or {}).get("median_s")
    for t in targets.values():
        if on_device == t.id:
            m = (lat.get("threads_all") or {}).get("median_s")
            if m is not None:
                n = (lat.get("threads_all") or {}).get("threads")
                out[t.id] = _entry(m, 0.0, "measured", f"measured on the device itself ({n} threads, edgephoto bench "
                                                       "--on-device)", n, budget_for(t.id))
            continue
        if on_device:       # on a device: measure it, do not estimate other devices from it
            continue
        if t.method == "browser":
            for b in browser_rows or []:
                if (b["task"], b["variant"], b["key"], b.get("backend")) == \
                        (row["task"], row.get("variant"), row["key"], "wasm") and b.get("median_s") is not None:
                    out[t.id] = _entry(b["median_s"], 0.0, "measured", "headless Chromium on this host, TF.js "
                                       "wasm backend (edgephoto bench --browser)", None, budget_for(t.id))
            continue
        if here_1 is None or row.get("format") not in ("onnx", "tflite"):
            continue
        f = (calibration.get(t.id) or {}).get(ref_precision(row.get("precision")))
        if not f:
            continue
        models = ", ".join(sorted({r["model"] for r in f["refs"]}))
        out[t.id] = _entry(here_1 * f["factor"], f["uncertainty"], "estimate",
                           f"{len(f['refs'])} ncnn reference(s) ({models}, {f['refs'][0]['source']})",
                           f["threads"], budget_for(t.id), f["factor"])
    return out


def add_estimates(rows: List[Dict[str, Any]], budgets: Dict[str, Any], resolve, refs_path: Path = REFS_FILE,
                  browser_rows: Optional[List[Dict[str, Any]]] = None, on_device: Optional[str] = None,
                  host_ms: Optional[Dict[str, float]] = None, log=print) -> Dict[str, Any]:
    """Fill ``row["estimates"]`` for every model row; returns the report's ``device_estimates``
    block (method, host reference timings, factors, or why there are none)."""
    targets, refs = load_refs(refs_path)
    if on_device and on_device not in targets:
        raise UserError(f"unknown target '{on_device}' (known: {', '.join(sorted(targets))})")
    block: Dict[str, Any] = {"method": METHOD_NOTE, "refs_file": str(refs_path),
                             "targets": {t.id: {"name": t.name, "threads": t.threads, "method": t.method}
                                         for t in targets.values()},
                             "on_device": on_device, "host_reference_ms": None, "factors": {}, "note": None}
    if not on_device:
        if host_ms is None:
            from .references import host_reference_ms
            try:
                log("device estimates: timing the reference networks in ncnn (1 thread) ...")
                host_ms = host_reference_ms(threads=1)
            except UserError as e:
                block["note"] = f"no estimates: {e}"
                log(f"device estimates: {e}")
                host_ms = {}
        block["host_reference_ms"] = host_ms
        block["factors"] = calibrate(targets, refs, host_ms)

    def budget_for(task):
        def get(tid):
            try:
                return resolve(budgets, tid, task).get("latency_s")
            except UserError:     # a target budgets.toml does not name: the defaults
                return budgets.get("defaults", {}).get("latency_s")
        return get

    for row in rows:
        if row.get("role") == "classical" or row.get("status") in ("error", "failed"):
            continue
        est = row_estimates(row, targets, block["factors"], budget_for(row["task"]), browser_rows, on_device)
        if est:
            row["estimates"] = est
    return block


# ------------------------------------------------------------------------------------ rendering
def estimate_cell(e: Optional[Dict[str, Any]]) -> str:
    if not e:
        return "-"
    verdict = "" if e.get("pass") is None else (" ok" if e["pass"] else " OVER")
    if e["kind"] == "measured":
        return f"{e['median_s']:.3g} s measured{verdict}"
    return f"{e['median_s']:.3g} s +/-{100 * e['uncertainty']:.0f}% est.{verdict}"


def estimate_table(report: Dict[str, Any]) -> tuple[List[str], List[List[str]]]:
    """(headers, rows) of the per-target table: one row per artifact with estimates."""
    block = report.get("device_estimates") or {}
    tids = list((block.get("targets") or {}))
    headers = ["task", "variant", "format", "here 1 thread s"] + [
        f"{t} ({block['targets'][t]['threads'] or 'browser'}{'T' if block['targets'][t]['threads'] else ''})"
        for t in tids]
    body = []
    for r in report["rows"]:
        if not r.get("estimates"):
            continue
        here = ((r.get("latency") or {}).get("threads_1") or {}).get("median_s")
        body.append([r["task"], r.get("variant", "?") + (" *" if r.get("shipped") else ""), r["key"],
                     "-" if here is None else f"{here:.3g}"] + [estimate_cell(r["estimates"].get(t)) for t in tids])
    return headers, body


def factor_lines(report: Dict[str, Any]) -> List[str]:
    """One line per target and precision: the factor, its references and their sources."""
    block = report.get("device_estimates") or {}
    out = []
    if block.get("note"):
        out.append(block["note"])
    for tid, precs in (block.get("factors") or {}).items():
        for prec, f in precs.items():
            if not f:
                out.append(f"{tid} {prec}: no reference figure")
                continue
            refs = "; ".join(f"{r['model']} {r['device_ms']:g} ms there / {r['host_ms']:.3g} ms here" for r in f["refs"])
            out.append(f"{tid} {prec} {f['threads']}T: factor {f['factor']:.3g} +/-{100 * f['uncertainty']:.0f}% "
                       f"({refs}; {f['refs'][0]['source']}, {f['refs'][0]['clock']})")
    return out
