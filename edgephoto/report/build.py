"""Assemble the report of one bench run and write it atomically.

:func:`build_report` reads ``bench.json``, draws the plots (:mod:`.plots`) and the before/after grids
(:mod:`.grids`) into a fresh temporary folder, renders the same sections as HTML and Markdown
(:mod:`.render`), then swaps the folder in as ``<out>/report_files/`` and renames the two pages into
place: a reader never sees half a report. Run it as ``edgephoto report --bench reports/bench.json
--out reports/`` (or ``make report``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from ..bench.run import (CLASSICAL_NOTE, HEADERS, LATENCY_NOTE, ROLE_NOTE, chain_lines, group_tables,
                         primary_metric, table_rows)
from ..errors import UserError
from . import grids, plots
from .render import Bullets, Figure, Note, Section, Table, to_html, to_markdown

HTML_NAME, MD_NAME, FILES_DIR = "report.html", "report.md", "report_files"
REQUIRED_ROW_KEYS = ("task", "key", "status")


def _log(msg: str) -> None:
    print(f"[report] {msg}", file=sys.stderr, flush=True)


def load_bench(path: Path) -> Dict[str, Any]:
    """The bench's JSON, checked enough that rendering cannot trip on it (one-line UserErrors)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no bench results at {path} (run `make bench` / `edgephoto bench` first, or pass --bench)")
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{path} is not readable JSON ({' '.join(str(e).split())})") from None
    if not isinstance(report, dict) or not isinstance(report.get("rows"), list):
        raise UserError(f"{path} is not an edgephoto bench report (no list of 'rows')")
    for i, r in enumerate(report["rows"]):
        missing = [k for k in REQUIRED_ROW_KEYS if not isinstance(r, dict) or k not in r]
        if missing:
            raise UserError(f"{path}: row {i} has no {', '.join(missing)} (not written by `edgephoto bench`?)")
    return report


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))


def _sentence(text: str) -> str:
    text = str(text).strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def _row_class(r: Dict[str, Any]) -> str:
    cls = [f"role-{r.get('role', 'ours')}"]
    if r.get("shipped"):
        cls.append("shipped")
    if r.get("status") in ("error", "failed", "fail"):
        cls.append("bad")
    return " ".join(cls)


class _Figures:
    """PNG files drawn into the temporary folder, handed out as relative :class:`Figure` blocks."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.names = tmp, []

    def draw(self, name: str, fn: Callable[[Path], Any], caption: str) -> Optional[Figure]:
        from PIL import Image
        path = self.tmp / name
        result = fn(path)
        if not result or not path.is_file():
            return None
        with Image.open(path) as im:
            w, h = im.size
        self.names.append(name)
        return Figure(f"{FILES_DIR}/{name}", caption, w, h)


def _summary(report: Dict[str, Any], bench: Path, data: Path) -> Section:
    m = report.get("machine") or {}
    items = [f"Bench run of {report.get('created', '?')} ({bench}); target {report.get('target', '?')}, "
             f"budgets {report.get('budgets_file', '?')}.",
             f"Machine: {m.get('cpu_count', '?')} CPU(s), {m.get('platform', '?')}, Python {m.get('python', '?')}; "
             f"all threads = {report.get('threads_all', '?')}; {report.get('runs', '?')} timed run(s) per "
             f"measurement{' (--quick)' if report.get('quick') else ''}.",
             f"Artifacts: {report.get('dist', '?')}; test data for the grids: {data}."]
    if "passed" in report:
        items.append("PASS: every shipped variant meets its budgets." if report["passed"] else
                     "FAIL: " + "; ".join(report.get("failed_shipped") or []))
    return Section("Summary", "summary", [Bullets(items)])


def _bench_sections(report: Dict[str, Any]) -> List[Section]:
    rows = report["rows"]
    s = Section("Bench table", "bench", [
        Table(HEADERS, table_rows(report), [_row_class(r) for r in rows], id="bench",
              caption=f"{len(rows)} row(s): task x variant x format; latency cells are median/p90 seconds; "
                      f"* = shipped variant")])
    notes = [f"Latency: {report.get('latency_note', LATENCY_NOTE)}.",
             "Test quality: the task's shown metrics on the held-out test split through the runtime (all "
             "metrics are in bench.json). Parity max: the largest absolute difference of the output vs the "
             "PyTorch fp32 model on the parity images (from the manifest). Budgets: each verdict that "
             "failed, else pass."]
    if any(r.get("role", "ours") != "ours" for r in rows):
        notes.append(_sentence(report.get("role_note", ROLE_NOTE)))
    if any(r.get("role") == "classical" for r in rows):
        notes.append(_sentence(report.get("classical_note", CLASSICAL_NOTE)))
    for task, b in (report.get("budgets") or {}).items():
        notes.append(f"Budgets for {task}: " + ", ".join(f"{k} = {v}" for k, v in b.items()))
    s.blocks.append(Bullets(notes))
    out = [s]
    for title, headers, body in group_tables(report):
        out.append(Section(title, _safe("group-" + title[:30]), [Table(headers, body)], level=3))
    chains = chain_lines(report)
    if chains:
        out.append(Section("Generation runs", "chains", [Bullets(chains)], level=3))
    if report.get("browser"):
        from ..bench.browser import BROWSER_HEADERS, browser_table
        out.append(Section("Browser (headless Chromium)", "browser",
                           [Table(BROWSER_HEADERS, browser_table(report)),
                            Bullets([f"{report.get('browser_note', '')}. Reported, not asserted."])], level=3))
    return out


def _fit_sections(fit_dir: Path, figs: "_Figures", notes: List[str]) -> List[Section]:
    """One sub-section per ``compress --fit`` result in ``fit_dir`` (``<task>-<target>.json``): the
    pick and why, the frontier table and its plot. Nothing when there are none."""
    files = sorted(fit_dir.glob("*.json")) if fit_dir.is_dir() else []
    if not files:
        return []
    from ..compress.fit import HEADERS as FIT_HEADERS, fit_cells
    out = [Section("Fitting to a target", "fit", [
        f"The results of edgephoto compress --fit --target T in {fit_dir}: every candidate explored (network x input "
        f"size x precision), its size, its latency on the target (estimated with its range, or measured) and its "
        f"val quality; the pick is the best quality whose size and latency upper bound meet the target's budgets."])]
    for f in files:
        try:
            fr = json.loads(f.read_text())
            title = f"{fr['task']} → {fr['target']}"
            blocks: List[Any] = [f"Pick: {fr['why']}" if fr.get("why") else Note("No candidate fits this target.")]
            blocks.append(Table(FIT_HEADERS, fit_cells(fr), caption=f"{fr['target_name']}: budgets "
                                f"{fr['budgets']['size_mb']:g} MB, {fr['budgets']['latency_s']:g} s (upper bound)"))
            plot = f.with_suffix(".png")     # the fit writes its plot beside its JSON ("plot": null if none)
            if fr.get("plot") and plot.is_file():
                name = f"fit_{_safe(f.stem)}.png"
                shutil.copyfile(plot, figs.tmp / name)
                fig = figs.draw(name, lambda p: True, f"{title}: val {fr['metric']} against latency on "
                                                      f"{fr['target']} (bars: the estimate's range).")
                if fig:
                    blocks.append(fig)
        except (OSError, ValueError, KeyError, TypeError) as e:
            n = f"{f.name}: not a readable fit result ({type(e).__name__}: {' '.join(str(e).split())[:200]})"
            notes.append(n)
            out.append(Section(f.stem, f"fit-{_safe(f.stem)}", [Note(n)], level=3))
            continue
        out.append(Section(title, f"fit-{_safe(f.stem)}", blocks, level=3))
    return out


def _estimates_table(chosen: List[Dict[str, Any]], order: List[str]) -> Table:
    """Rows x targets: median (low–high) seconds, "est." or "measured", and "OVER" on a miss; a
    target's budget in its header when the rows share it."""
    targets = plots.estimate_targets(chosen, order)
    headers = ["row"]
    for t in targets:
        budgets = {e.get("budget_s") for r in chosen for e in [(r.get("estimates") or {}).get(t)]
                   if isinstance(e, dict) and isinstance(e.get("budget_s"), (int, float))}
        headers.append(f"{t}, s" + (f" (budget {budgets.pop():g})" if len(budgets) == 1 else ""))
    body = []
    for r in chosen:
        cells = [plots.row_label(r)]
        for t in targets:
            e = (r.get("estimates") or {}).get(t)
            if not isinstance(e, dict) or not isinstance(e.get("median_s"), (int, float)):
                cells.append("-")
                continue
            lo, hi = e.get("low_s"), e.get("high_s")
            rng = f" ({lo:.3g}–{hi:.3g})" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) \
                and (lo, hi) != (e["median_s"], e["median_s"]) else ""
            kind = "measured" if e.get("kind") == "measured" else "est."
            cells.append(f"{e['median_s']:.3g}{rng} {kind}" + (" OVER" if e.get("pass") is False else ""))
        body.append(cells)
    return Table(headers, body, caption="median seconds (low–high); est. = estimated; OVER = the upper "
                                        "bound misses the budget")


def build_report(bench: Path, out: Optional[Path] = None, data: Optional[Path] = None, images: int = 4,
                 screenshot: Optional[Path] = None, log: Callable[[str], None] = _log,
                 fit_dir: Optional[Path] = None) -> Dict[str, Any]:
    """Write ``<out>/report.html``, ``<out>/report.md`` and ``<out>/report_files/*.png`` for the bench
    results in ``bench`` (``out`` default: the bench file's folder; ``data``: the test data root,
    default the one the bench recorded, else ``data``; ``fit_dir``: the ``compress --fit`` results,
    default ``fit/`` beside the bench file). Returns the paths and the notes."""
    bench = Path(bench)
    report = load_bench(bench)
    out = Path(out) if out is not None else bench.parent
    data = Path(data) if data is not None else Path(report.get("data") or "data")
    if images < 1:
        raise UserError("--images must be at least 1")
    rows = report["rows"]
    tasks = sorted({str(r["task"]) for r in rows})
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=f".{FILES_DIR}.tmp-"))
    notes: List[str] = []
    try:
        figs = _Figures(tmp)
        sections = [_summary(report, bench, data)] + _bench_sections(report)

        q = Section("Quality vs size and latency", "quality")
        q.blocks.append("Per task: the primary test metric of every scored row against its size and its "
                        "1-thread latency. Blue circles: our variants (black edge: shipped); orange: imported "
                        "peers / teachers; grey X and dashed lines: classical methods (no model file).")
        sections.append(q)
        for task in tasks:
            log(f"{task}: quality plots ...")
            f = figs.draw(f"quality_{_safe(task)}.png", lambda p, t=task: plots.quality_plot(rows, t, p),
                          f"{task}: test {primary_metric(task)} vs size (left) and vs 1-thread latency "
                          f"(right, bar to p90).")
            sections.append(Section(task, f"quality-{_safe(task)}",
                                    [f or Note(f"{task}: no row with a test {primary_metric(task)}: no plot.")],
                                    level=3))

        par = Section("Parity error per format", "parity")
        sections.append(par)
        any_par = False
        for task in tasks:
            f = figs.draw(f"parity_{_safe(task)}.png", lambda p, t=task: plots.parity_plot(rows, t, p),
                          f"{task}: max |output − PyTorch fp32| per exported format (log scale; from each "
                          f"manifest's parity record).")
            if f:
                any_par = True
                sections.append(Section(task, f"parity-{_safe(task)}", [f], level=3))
        if not any_par:
            par.blocks.append(Note("No row has a parity record: nothing to plot."))

        est = Section("Latency per target", "targets")
        sections.append(est)
        if not any(isinstance(r.get("estimates"), dict) and r["estimates"] for r in rows):
            why = ((report.get("device_estimates") or {}).get("note") or "") \
                if isinstance(report.get("device_estimates"), dict) else ""
            est.blocks.append(Note("No per-target latency estimates in this bench run (no row has estimates"
                                   + (f"; the bench said: {why}" if why else "") + "): section skipped."))
        else:
            block = report.get("device_estimates") if isinstance(report.get("device_estimates"), dict) else {}
            tinfo = block.get("targets") if isinstance(block.get("targets"), dict) else {}
            est.blocks.append("Each row's latency on each target device: measured there, or estimated "
                              "from this machine's measurements (bar: low–high); the red dashed line is the "
                              "target's budget, a red ring a miss.")
            how = [str(block["method"])] if block.get("method") else []
            try:
                from ..bench.estimates import factor_lines
                how += factor_lines(report)
            except Exception:   # an older or newer block layout: the method line alone
                pass
            for task in tasks:
                chosen, left = plots.estimate_rows(rows, task)
                if not chosen:
                    continue
                f = figs.draw(f"estimates_{_safe(task)}.png",
                              lambda p, t=task: plots.estimate_plot(rows, t, p, targets_info=tinfo),
                              f"{task}: latency per target (log scale)"
                              + (f"; {left} more row(s) with estimates are in bench.json" if left else "") + ".")
                blocks: List[Any] = [f] if f else [Note(f"{task}: no usable estimate values: no plot.")]
                blocks.append(_estimates_table(chosen, list(tinfo)))
                sources = sorted({f"{t}: {e['source']}" for r in chosen for t, e in (r.get("estimates") or {}).items()
                                  if isinstance(e, dict) and e.get("source")})
                if sources and not how:   # the bench's factor lines, when there, say it better
                    blocks.append(Bullets(["Sources — " + "; ".join(sources[:12])]))
                sections.append(Section(task, f"targets-{_safe(task)}", blocks, level=3))
            if how:
                sections.append(Section("How the estimates are made", "targets-method", [Bullets(how)], level=3))

        sections += _fit_sections(Path(fit_dir) if fit_dir is not None else bench.parent / "fit", figs, notes)

        g = Section("Before / after (test split)", "grids")
        sections.append(g)
        for task in tasks:
            row = grids.shipped_row(rows, task, ((report.get("budgets") or {}).get(task) or {}).get("ship_format"))
            if row is None:
                n = f"{task}: no shipped ONNX / TFLite row in this bench: no grid."
                notes.append(n)
                sections.append(Section(task, f"grid-{_safe(task)}", [Note(n)], level=3))
                continue
            log(f"{task}: grid of {row.get('variant')}/{row.get('key')} ...")
            name = f"grid_{_safe(task)}.png"
            try:
                res = grids.task_grid(row, data, tmp / name, images)
            except Exception as e:   # one task's broken data or model must not cost the whole report
                res = grids.Grid(None, note=f"{task}: the grid of {row.get('variant')}/{row.get('key')} failed "
                                            f"({type(e).__name__}: {' '.join(str(e).split())[:300]})")
            if res.file is None:
                notes.append(res.note)
                log(res.note)
                block: Any = Note(res.note)
            else:
                block = figs.draw(name, lambda p: True, res.caption)
            sections.append(Section(task, f"grid-{_safe(task)}", [block], level=3))

        title = "edgephoto report"
        subtitle = (f"Bench of {report.get('created', '?')}, target {report.get('target', '?')}, "
                    f"{len(rows)} row(s) over {', '.join(tasks) or 'no task'}.")
        footer = f"Written by edgephoto report from {bench} on {time.strftime('%Y-%m-%d %H:%M:%S')}."
        verdict = report.get("passed") if isinstance(report.get("passed"), bool) else None
        page = to_html(title, subtitle, verdict, sections, footer)
        md = to_markdown(title, subtitle, verdict, sections, footer)
        files = out / FILES_DIR
        _swap_dir(tmp, files)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_text_atomic(out / HTML_NAME, page)
    _write_text_atomic(out / MD_NAME, md)
    result: Dict[str, Any] = {"html": out / HTML_NAME, "markdown": out / MD_NAME, "files": files,
                              "figures": list(figs.names), "notes": notes}
    if screenshot is not None:
        from .screenshot import take_screenshot
        result["screenshot"] = take_screenshot(out / HTML_NAME, Path(screenshot))
    return result


def _swap_dir(new: Path, dest: Path) -> None:
    """Put the folder ``new`` at ``dest`` by renames (the old one, if any, is removed after)."""
    os.chmod(new, 0o755)   # mkdtemp makes owner-only folders; reports are meant to be shared
    for p in new.iterdir():
        os.chmod(p, 0o644)
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.time_ns()}")
        os.replace(dest, old)
    os.replace(new, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
