"""The report's content model and its two renderings: one HTML page and the same as Markdown.

``build.py`` assembles :class:`Section` objects (paragraphs, bullet lists, tables, figures) and
hands them to :func:`to_html` and :func:`to_markdown`, so both files always say the same thing.
Figures are PNG files referenced by a path relative to the page (``report_files/x.png``), never
embedded. Run through ``edgephoto report`` (see :mod:`edgephoto.report`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union


@dataclass
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    row_classes: Optional[Sequence[str]] = None   # HTML only: one CSS class string per row
    caption: str = ""
    id: str = ""


@dataclass
class Figure:
    src: str                 # relative to the page
    caption: str
    width: Optional[int] = None
    height: Optional[int] = None


@dataclass
class Bullets:
    items: Sequence[str]


@dataclass
class Note:
    """A one-line remark (a skipped section, a missing model), shown in a muted box."""
    text: str


Block = Union[str, Table, Figure, Bullets, Note]


@dataclass
class Section:
    title: str
    anchor: str
    blocks: List[Block] = field(default_factory=list)
    level: int = 2           # 2 = a top section (in the contents), 3 = a sub-section


# ----------------------------------------------------------------------------------------- HTML
CSS = """
:root { --ours: #1f77b4; --peer: #ff7f0e; --teacher: #9467bd; --classical: #7f7f7f; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1d1d1f;
       margin: 0; background: #fff; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.sub { color: #555; margin: 0 0 12px; }
nav { font-size: 14px; margin: 8px 0 18px; }
nav a { margin-right: 14px; color: #0b5cad; text-decoration: none; }
.note { background: #f4f4f6; border-left: 4px solid #aaa; padding: 6px 10px; margin: 8px 0; color: #444; }
ul.bullets { margin: 6px 0; padding-left: 22px; font-size: 13.5px; color: #333; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0; }
th, td { border: 1px solid #d6d6d6; padding: 3px 6px; text-align: left; white-space: nowrap; vertical-align: top; }
th { background: #eef1f5; white-space: normal; vertical-align: bottom; }
td.wrap { white-space: normal; min-width: 6em; max-width: 22em; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.role-ours td:first-child { border-left: 4px solid var(--ours); }
tr.role-peer td:first-child, tr.role-teacher td:first-child { border-left: 4px solid var(--peer); }
tr.role-classical td:first-child { border-left: 4px solid var(--classical); }
tr.bad td { background: #fdecec; }
td.fail { color: #b00020; font-weight: 600; }
td.pass { color: #11703a; }
caption { caption-side: top; text-align: left; font-size: 13px; color: #555; padding: 2px 0 4px; }
figure { margin: 12px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; max-width: 1100px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 700; font-size: 13px; }
.badge.pass { background: #dff3e6; color: #11703a; } .badge.fail { background: #fdecec; color: #b00020; }
footer { margin-top: 40px; font-size: 12px; color: #777; }
"""

NUMERIC = {"MB", "peak MB", "parity max", "GMAC"}
WRAP = {"note"}


def _cell_class(header: str, value: str) -> str:
    if header == "budgets":
        return ("wrap " + ("fail" if value.startswith(("FAIL", "error", "failed")) else
                          "pass" if value.startswith("pass") else "")).strip()
    if header in WRAP:
        return "wrap"
    if header in NUMERIC or header.endswith(" s"):
        return "num"
    return ""


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.headers)
    body = []
    for i, row in enumerate(t.rows):
        cls = (t.row_classes or [""] * len(t.rows))[i]
        cells = ""
        for h, v in zip(t.headers, row):
            c = _cell_class(h, v)
            cells += (f"<td class=\"{c}\">" if c else "<td>") + html.escape(v) + "</td>"
        body.append(f"<tr class=\"{html.escape(cls)}\">{cells}</tr>" if cls else f"<tr>{cells}</tr>")
    cap = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    tid = f" id=\"{html.escape(t.id)}\"" if t.id else ""
    return (f"<div class=\"tablewrap\"><table{tid}>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _block_html(b: Block) -> str:
    if isinstance(b, Table):
        return _table_html(b)
    if isinstance(b, Figure):
        size = (f" width=\"{b.width}\" height=\"{b.height}\"" if b.width and b.height else "")
        return (f"<figure><img src=\"{html.escape(b.src)}\" alt=\"{html.escape(b.caption)}\"{size}>"
                f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    if isinstance(b, Bullets):
        return "<ul class=\"bullets\">" + "".join(f"<li>{html.escape(x)}</li>" for x in b.items) + "</ul>"
    if isinstance(b, Note):
        return f"<p class=\"note\">{html.escape(b.text)}</p>"
    return f"<p>{html.escape(str(b))}</p>"


def to_html(title: str, subtitle: str, verdict: Optional[bool], sections: Sequence[Section],
            footer: str = "") -> str:
    """The whole page: contents, then every section in order (CSS inline, images by relative path)."""
    badge = "" if verdict is None else \
        (" <span class=\"badge pass\">PASS</span>" if verdict else " <span class=\"badge fail\">FAIL</span>")
    nav = " ".join(f"<a href=\"#{html.escape(s.anchor)}\">{html.escape(s.title)}</a>"
                   for s in sections if s.level == 2)
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>{html.escape(title)}{badge}</h1>", f"<p class=\"sub\">{html.escape(subtitle)}</p>",
             f"<nav>{nav}</nav>"]
    for s in sections:
        parts.append(f"<h{s.level} id=\"{html.escape(s.anchor)}\">{html.escape(s.title)}</h{s.level}>")
        parts += [_block_html(b) for b in s.blocks]
    if footer:
        parts.append(f"<footer>{html.escape(footer)}</footer>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- Markdown
def _md_cell(v: str) -> str:
    return str(v).replace("|", "/").replace("\n", " ")


def _md_em(text: str) -> str:
    """``text`` in italics, its own asterisks escaped."""
    return "*" + str(text).replace("*", "\\*") + "*"


def _block_md(b: Block) -> List[str]:
    if isinstance(b, Table):
        out = [_md_em(b.caption), ""] if b.caption else []
        out += ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |", "|" + "---|" * len(b.headers)]
        out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
        return out
    if isinstance(b, Figure):
        return [f"![{_md_cell(b.caption).replace('*', '')}]({b.src})", "", _md_em(b.caption)]
    if isinstance(b, Bullets):
        return [f"- {x}" for x in b.items]
    if isinstance(b, Note):
        return [f"> {b.text}"]
    return [str(b)]


def to_markdown(title: str, subtitle: str, verdict: Optional[bool], sections: Sequence[Section],
                footer: str = "") -> str:
    head = f"# {title}" + ("" if verdict is None else (" — PASS" if verdict else " — FAIL"))
    md = [head, "", subtitle, ""]
    md += ["Contents: " + " · ".join(f"[{s.title}](#{s.anchor})" for s in sections if s.level == 2), ""]
    for s in sections:
        md += [f"<a id=\"{s.anchor}\"></a>", "", "#" * s.level + " " + s.title, ""]
        for b in s.blocks:
            md += _block_md(b) + [""]
    if footer:
        md += ["---", "", footer, ""]
    return "\n".join(md)
