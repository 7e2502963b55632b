"""The report's plots: one PNG per task and kind, drawn with matplotlib's Agg canvas.

- :func:`quality_plot`: test quality (the task's primary metric) against size and against 1-thread
  latency; our variants, peers / teachers and classical methods by colour and marker, each labelled;
- :func:`parity_plot`: each format's parity error (max |output - PyTorch fp32|), log scale;
- :func:`estimate_plot`: per-target latency estimates (``row["estimates"]``) with low-high bars and
  each target's budget.

Each takes the bench's rows and writes ``out`` (returns False when there is nothing to draw).
matplotlib is imported on first use and never through pyplot (no global state, no display):
``edgephoto report`` calls these from :mod:`edgephoto.report.build`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..bench.run import primary_metric

# role -> (colour, marker, legend label)
ROLE_STYLE = {"ours": ("#1f77b4", "o", "ours"), "peer": ("#ff7f0e", "s", "peer (imported)"),
              "teacher": ("#9467bd", "D", "teacher (imported)"),
              "classical": ("#555555", "X", "classical (no network)")}
PRECISION_COLOUR = {"fp32": "#2ca02c", "fp16": "#1f77b4", "int8": "#ff7f0e", "uint8": "#d62728"}
DPI = 110


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w, h), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out: Path) -> None:
    fig.savefig(str(out), format="png", dpi=DPI, bbox_inches="tight", facecolor="white")


def _style(row: Dict[str, Any]) -> Tuple[str, str, str]:
    return ROLE_STYLE.get(row.get("role", "ours"), ROLE_STYLE["peer"])


def row_label(row: Dict[str, Any]) -> str:
    """``variant* key`` (``*`` = shipped); a classical row: its method name."""
    if row.get("role") == "classical":
        return str(row.get("variant", "classical"))
    return f"{row.get('variant', '?')}{'*' if row.get('shipped') else ''} {row.get('key', '')}"


def _metric_axis_label(metric: str) -> str:
    try:
        from ..metrics import metric_info
        info = metric_info(metric)
    except Exception:   # an unregistered metric: just its name
        return f"test {metric}"
    unit = f" ({info.unit})" if info.unit else ""
    return f"test {info.label}{unit} — {'higher' if info.higher_is_better else 'lower'} is better"


def _num(x: Any) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def place_labels(fig, ax, points: Sequence[Tuple[float, float, str]], fontsize: float = 8) -> None:
    """Label each point (with a thin leader line), trying offsets so that a label covers no marker
    and no other label and stays inside the axes; where none is free, the offset with the fewest
    overlaps (greedy, in display space; the axes' limits must be final)."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    r = 9   # a marker's half-size in pixels
    placed: List[Any] = [Bbox.from_extents(px - r, py - r, px + r, py + r)
                         for px, py in (ax.transData.transform((x, y)) for x, y, _ in points)]
    offsets = [(7, 4), (7, -11), (-7, 4), (-7, -11), (7, 15), (7, -22), (-7, 15), (-7, -22),
               (7, 26), (7, -33), (-7, 26), (-7, -33), (7, 37), (7, -44), (-7, 37), (-7, -44)]
    for i, (x, y, text) in enumerate(points):
        others = placed[:i] + placed[i + 1:]   # its own marker does not count
        best = None
        for dx, dy in offsets:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                              ha="left" if dx > 0 else "right", va="bottom", color="#222",
                              arrowprops=dict(arrowstyle="-", color="#888", lw=0.6, shrinkA=0, shrinkB=4))
            bb = Text.get_window_extent(ann, renderer)   # the text alone, not its leader line
            inside = bb.x0 >= box.x0 and bb.x1 <= box.x1 and bb.y0 >= box.y0 and bb.y1 <= box.y1
            cost = (0 if inside else 100) + sum(bb.overlaps(o) for o in others)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, bb)
            else:
                ann.remove()
            if cost == 0:
                break
        placed.append(best[2])


def plain_log(ax, axis: str) -> None:
    """A log scale ticked 1-2-5 in plain numbers (0.2, 0.5, 1, 2), no 10^x labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    a = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


def _log_if_wide(ax, axis: str, values: Sequence[float]) -> None:
    pos = [v for v in values if v and v > 0]
    if pos and max(pos) / min(pos) > 8:
        plain_log(ax, axis)


def quality_plot(rows: Sequence[Dict[str, Any]], task: str, out: Path) -> bool:
    """Quality vs size (left) and vs 1-thread latency (right) for every scored row of ``task``.
    Classical rows have no size: a dashed line at their quality on the left, a point on the right."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import ScalarFormatter

    pm = primary_metric(task)
    pts = [(r, _num((r.get("quality") or {}).get(pm))) for r in rows if r.get("task") == task]
    pts = [(r, q) for r, q in pts if q is not None]
    if not pts:
        return False
    fig = _figure(13, 5.2)
    ax_s, ax_l = fig.subplots(1, 2, sharey=True)
    size_pts, lat_pts, roles = [], [], set()
    for r, q in pts:
        colour, marker, _ = _style(r)
        roles.add(r.get("role", "ours"))
        big = dict(s=120, edgecolors="black", linewidths=1.2) if r.get("shipped") else dict(s=55, edgecolors="none")
        if r.get("role") == "classical":
            ax_s.axhline(q, ls="--", lw=1.2, color=colour, zorder=1)
            ax_s.annotate(f"{row_label(r)} (classical)", (1.0, q), xycoords=("axes fraction", "data"),
                          xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom", fontsize=8,
                          color=colour)
        elif _num(r.get("size_mb")) is not None:
            ax_s.scatter([r["size_mb"]], [q], marker=marker, color=colour, zorder=3, **big)
            size_pts.append((float(r["size_mb"]), q, row_label(r)))
        l1 = ((r.get("latency") or {}).get("threads_1") or {})
        med, p90 = _num(l1.get("median_s")), _num(l1.get("p90_s"))
        if med is not None:
            err = [[0.0], [max((p90 or med) - med, 0.0)]]
            ax_l.errorbar([med], [q], xerr=err, fmt="none", ecolor=colour, elinewidth=1, capsize=3, zorder=2)
            ax_l.scatter([med], [q], marker=marker, color=colour, zorder=3, **big)
            lat_pts.append((med, q, row_label(r)))
    _log_if_wide(ax_s, "x", [p[0] for p in size_pts])
    _log_if_wide(ax_l, "x", [p[0] for p in lat_pts])
    for ax in (ax_s, ax_l):
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.15, y=0.18)
        if ax.get_yscale() == "linear":
            fmt = ScalarFormatter(useOffset=False)
            ax.yaxis.set_major_formatter(fmt)
    ax_s.set_xlabel("size (MB: the model file(s) a device downloads)")
    ax_l.set_xlabel("latency, 1 thread, end to end on the bench photo (s; median, bar to p90)")
    ax_s.set_ylabel(_metric_axis_label(pm))
    ax_s.set_title(f"{task}: quality vs size", fontsize=11)
    ax_l.set_title(f"{task}: quality vs latency", fontsize=11)
    if not size_pts and not any(r.get("role") == "classical" for r, _ in pts):
        ax_s.text(0.5, 0.5, "no sized rows", transform=ax_s.transAxes, ha="center", color="#777")
    if not lat_pts:
        ax_l.text(0.5, 0.5, "no timed rows", transform=ax_l.transAxes, ha="center", color="#777")
    handles = [Line2D([], [], ls="none", marker=ROLE_STYLE[k][1], color=ROLE_STYLE[k][0], markersize=8,
                      label=ROLE_STYLE[k][2]) for k in ROLE_STYLE if k in roles]
    if any(r.get("shipped") for r, _ in pts):
        handles.append(Line2D([], [], ls="none", marker="o", markerfacecolor="white", markeredgecolor="black",
                              markeredgewidth=1.2, markersize=10, label="shipped variant (*)"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, fontsize=9,
               bbox_to_anchor=(0.5, 1.04))
    fig.tight_layout()
    place_labels(fig, ax_s, size_pts)
    place_labels(fig, ax_l, lat_pts)
    _save(fig, out)
    return True


def parity_plot(rows: Sequence[Dict[str, Any]], task: str, out: Path) -> bool:
    """One dot per row of ``task`` with a parity record: its max absolute error vs PyTorch fp32
    (log scale; an exact 0 is drawn at the axis floor and labelled 0)."""
    from matplotlib.lines import Line2D

    pts = []
    for r in rows:
        v = _num((r.get("parity") or {}).get("max_abs"))
        if r.get("task") == task and v is not None:
            pts.append((r, v))
    if not pts:
        return False
    pts.sort(key=lambda p: (p[0].get("role", "ours") != "ours", str(p[0].get("variant")), str(p[0].get("key"))))
    nonzero = [v for _, v in pts if v > 0]
    floor = (min(nonzero) / 10) if nonzero else 1e-8
    fig = _figure(10, 1.4 + 0.36 * len(pts))
    ax = fig.subplots()
    precisions = []
    for i, (r, v) in enumerate(pts):
        prec = str(r.get("precision", "?"))
        colour = PRECISION_COLOUR.get(prec, "#7f7f7f")
        precisions.append(prec)
        shown = v if v > 0 else floor
        ax.hlines(i, floor, shown, color=colour, lw=2, alpha=0.5)
        ax.scatter([shown], [i], color=colour, s=45, zorder=3)
        ax.annotate("0" if v == 0 else f"{v:.2g}", (shown, i), xytext=(6, -3), textcoords="offset points",
                    fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(floor * 0.8, max(v for _, v in pts) * 8 if nonzero else 1.0)
    ax.set_yticks(range(len(pts)))
    ax.set_yticklabels([row_label(r) + ("" if r.get("role", "ours") == "ours" else f" ({r.get('role')})")
                        for r, _ in pts], fontsize=9)
    ax.invert_yaxis()
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set_xlabel("max |output − PyTorch fp32 output| on the parity images (log scale)")
    ax.set_title(f"{task}: parity error per format", fontsize=11)
    seen = [p for p in PRECISION_COLOUR if p in precisions] + sorted(set(precisions) - set(PRECISION_COLOUR))
    ax.legend(handles=[Line2D([], [], ls="none", marker="o", color=PRECISION_COLOUR.get(p, "#7f7f7f"), label=p)
                       for p in seen], loc="lower right", fontsize=8, title="precision", title_fontsize=8)
    fig.tight_layout()
    _save(fig, out)
    return True


def estimate_rows(rows: Sequence[Dict[str, Any]], task: str, limit: int = 10) -> Tuple[List[Dict[str, Any]], int]:
    """The rows of ``task`` with per-target estimates, shipped ones first, then peers and classical
    methods, then the rest; at most ``limit`` (returns them and how many were left out)."""
    have = [r for r in rows if r.get("task") == task and isinstance(r.get("estimates"), dict) and r["estimates"]]
    rank = {"ours": 2, "peer": 1, "teacher": 1, "classical": 1}
    have.sort(key=lambda r: (0 if r.get("shipped") else rank.get(r.get("role", "ours"), 2),
                             str(r.get("variant")), str(r.get("key"))))
    return have[:limit], max(0, len(have) - limit)


def estimate_targets(rows: Sequence[Dict[str, Any]], order: Sequence[str] = ()) -> List[str]:
    """Target ids the rows have estimates for: those of ``order`` first (the bench's
    ``device_estimates.targets``), then the others in the order they first appear."""
    seen: List[str] = []
    for r in rows:
        for t in (r.get("estimates") or {}):
            if t not in seen:
                seen.append(t)
    return [t for t in order if t in seen] + [t for t in seen if t not in order]


def estimate_plot(rows: Sequence[Dict[str, Any]], task: str, out: Path, limit: int = 10,
                  targets_info: Optional[Dict[str, Dict[str, Any]]] = None) -> bool:
    """Per target, each row's median latency with a low-high bar (filled marker: measured, hollow:
    estimated), the target's budget as a red dashed segment and a red ring on a miss; log scale.
    ``targets_info``: the bench's ``device_estimates.targets`` ({id: {name, threads}}) for the order
    and the thread counts under the target names."""
    from matplotlib.lines import Line2D

    chosen, _ = estimate_rows(rows, task, limit)
    if not chosen:
        return False
    info = targets_info or {}
    targets = estimate_targets(chosen, list(info))
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
               "#7f7f7f", "#d62728"]
    fig = _figure(max(8.0, 1.5 * len(targets) + 4), 5.0)
    ax = fig.subplots()
    n = len(chosen)
    width = 0.8
    budgets: Dict[int, set] = {}
    handles, drawn = [], False
    for i, r in enumerate(chosen):
        c = colours[i % len(colours)]
        off = (i - (n - 1) / 2) * (width / max(n, 1))
        for j, t in enumerate(targets):
            e = (r.get("estimates") or {}).get(t)
            med = _num((e or {}).get("median_s")) if isinstance(e, dict) else None
            if med is None or med <= 0:
                continue
            lo, hi = _num(e.get("low_s")), _num(e.get("high_s"))
            lo = lo if lo is not None and 0 < lo <= med else med
            hi = hi if hi is not None and hi >= med else med
            measured = e.get("kind") == "measured"
            ax.errorbar([j + off], [med], yerr=[[med - lo], [hi - med]], fmt="o", color=c, ecolor=c, capsize=3,
                        markersize=7, markerfacecolor=c if measured else "white", markeredgewidth=1.5, zorder=3)
            if e.get("pass") is False:
                ax.scatter([j + off], [med], s=190, facecolors="none", edgecolors="#d62728", linewidths=1.6,
                           zorder=4)
            b = _num(e.get("budget_s"))
            if b is not None and b > 0:
                budgets.setdefault(j, set()).add(b)
            drawn = True
        handles.append(Line2D([], [], ls="none", marker="o", color=c, label=row_label(r)))
    if not drawn:
        return False
    for j, bs in budgets.items():
        for b in bs:
            ax.hlines(b, j - 0.45, j + 0.45, colors="#d62728", linestyles="--", lw=1.3, zorder=2)
    plain_log(ax, "y")
    ax.set_xticks(range(len(targets)))
    ax.set_xticklabels([t + (f"\n{info[t]['threads']} thread(s)" if (info.get(t) or {}).get("threads") else "")
                        for t in targets])
    ax.set_xlim(-0.6, len(targets) - 0.4)
    ax.grid(True, axis="y", which="both", alpha=0.25)
    ax.set_ylabel("seconds per call (log scale)")
    ax.set_title(f"{task}: latency per target (median, bar = low–high)", fontsize=11)
    handles += [Line2D([], [], ls="none", marker="o", color="#444", label="measured"),
                Line2D([], [], ls="none", marker="o", color="#444", markerfacecolor="white", label="estimated"),
                Line2D([], [], ls="--", color="#d62728", label="budget")]
    if any((e or {}).get("pass") is False for r in chosen for e in (r.get("estimates") or {}).values()
           if isinstance(e, dict)):
        handles.append(Line2D([], [], ls="none", marker="o", markersize=11, markerfacecolor="none",
                              markeredgecolor="#d62728", label="misses its budget"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    _save(fig, out)
    return True
