"""The report: one HTML page (plus the same content as Markdown) for one bench run.

``edgephoto report --bench reports/bench.json --out reports/`` (or ``make report``) reads the bench's
JSON and writes ``reports/report.html``, ``reports/report.md`` and the PNGs they show in
``reports/report_files/``: the bench table, size / latency vs quality plots per task, parity error
per format, per-target latency estimates (when the bench has them), and before/after grids of the
shipped model on test images through the runtime. ``--screenshot reports/report.png`` also takes a
full-page screenshot in headless Chromium.

Modules: ``build`` (sections and atomic writing), ``plots`` (matplotlib, Agg), ``grids`` (images
through :mod:`edgephoto.runtime`), ``render`` (HTML and Markdown), ``screenshot`` (Chromium),
``command`` (the sub-command; imports only argparse).
"""

from __future__ import annotations

__all__ = ["build_report"]


def build_report(*args, **kwargs):
    """:func:`edgephoto.report.build.build_report` (imported on first use)."""
    from .build import build_report as _build
    return _build(*args, **kwargs)
