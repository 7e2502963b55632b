"""Before/after grids: a task's shipped model on a few test images, through the device runtime.

For each task, :func:`shipped_row` picks the bench row to show (the shipped variant in its ship
format, else another runnable format of it) and :func:`task_grid` writes one PNG: per test image
the input, the model's output as ``edgephoto run`` would save it (a cut-out over a checkerboard,
the retouched / 4x / coloured photo) and the ground truth drawn the same way, with the task's
shown metrics for that image. A generator (input kind ``latent``) gets a contact sheet of samples
instead. A missing model or test split gives a one-line note, not an exception.
Called by :mod:`edgephoto.report.build` (``edgephoto report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..bench.run import score_pairs, shown_metrics

CELL = 232            # each image fits a CELL x CELL box
GAP = 10
CAPTION_H = 36       # two lines of 12 px text
HEADER_H = 30
BG = (255, 255, 255)
CELL_BG = (238, 238, 240)
GENERATOR_SAMPLES_PER_IMAGE = 4   # --images 4 -> 16 samples on the contact sheet
SAMPLE_SEED = 0


@dataclass
class Grid:
    """What :func:`task_grid` made: the PNG (or None) and its caption, or a note saying why not."""
    file: Optional[Path]
    caption: str = ""
    note: str = ""


def task_data_root(data: Path, task: str) -> Path:
    """``<data>/<task>`` when it exists, else ``<data>`` (as the bench reads a test split)."""
    return data / task if (data / task).is_dir() else data


def shipped_row(rows: Sequence[Dict[str, Any]], task: str,
                ship_format: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The row whose model the grid shows: ours, shipped, runnable (ONNX / TFLite), preferring the
    task's ship format and rows that ran in the bench; None when the task has no shipped row."""
    cands = [r for r in rows if r.get("task") == task and r.get("shipped") and r.get("role", "ours") == "ours"
             and r.get("format") in ("onnx", "tflite")]
    if not cands:
        return None
    prec = {"fp32": 0, "fp16": 1, "int8": 2}
    return min(cands, key=lambda r: (r.get("key") != ship_format, r.get("status") not in ("ok", "fail"),
                                     r.get("format") != "onnx", prec.get(r.get("precision"), 3)))


def _font(size: int):
    try:
        from matplotlib import font_manager
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except Exception:   # no matplotlib / no FreeType: Pillow's built-in bitmap font
        return ImageFont.load_default()


def _checker(size, step: int = 12) -> Image.Image:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.where(((yy // step) + (xx // step)) % 2 == 0, 205, 245).astype(np.uint8)
    return Image.fromarray(np.stack([a, a, a, np.full_like(a, 255)], -1), "RGBA")


def _flat(im: Image.Image) -> Image.Image:
    """RGBA over a checkerboard (transparency visible), else RGB."""
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        return Image.alpha_composite(_checker(im.size), im).convert("RGB")
    return im.convert("RGB")


def fit(im: Image.Image, box: int = CELL) -> Image.Image:
    """``im`` scaled to fit ``box`` x ``box`` on a grey cell: nearest-neighbour when it is enlarged
    2x or more (a low-resolution input shows its pixels), Lanczos otherwise."""
    im = _flat(im)
    w, h = im.size
    k = min(box / w, box / h)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    im = im.resize((nw, nh), Image.NEAREST if k >= 2 else Image.LANCZOS)
    cell = Image.new("RGB", (box, box), CELL_BG)
    cell.paste(im, ((box - nw) // 2, (box - nh) // 2))
    return cell


def _ellipsize(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, lines: int = 2) -> List[str]:
    """``text`` in at most ``lines`` lines of ``width`` px, broken at spaces, the last one ellipsized."""
    out: List[str] = []
    words = text.split()
    while words and len(out) < lines:
        line = words.pop(0)
        while words and draw.textlength(f"{line} {words[0]}", font=font) <= width:
            line += " " + words.pop(0)
        out.append(line)
    if words:
        out[-1] = out[-1] + " " + " ".join(words)
    return [_ellipsize(draw, ln, font, width) for ln in out]


def compose(columns: Sequence[str], cells: Sequence[Sequence[Image.Image]],
            captions: Sequence[Sequence[str]]) -> Image.Image:
    """A grid: a header row of column titles, then one row of ``fit`` cells per example, each cell
    with its one-line caption underneath."""
    ncol, nrow = len(columns), len(cells)
    W = GAP + ncol * (CELL + GAP)
    H = HEADER_H + nrow * (CELL + CAPTION_H + GAP) + GAP // 2
    sheet = Image.new("RGB", (W, H), BG)
    d = ImageDraw.Draw(sheet)
    head, small = _font(15), _font(12)
    for c, title in enumerate(columns):
        d.text((GAP + c * (CELL + GAP), 8), _ellipsize(d, title, head, CELL), fill=(20, 20, 20), font=head)
    for r, row in enumerate(cells):
        y = HEADER_H + r * (CELL + CAPTION_H + GAP)
        for c, im in enumerate(row):
            x = GAP + c * (CELL + GAP)
            sheet.paste(fit(im), (x, y))
            cap = captions[r][c] if c < len(captions[r]) else ""
            for k, line in enumerate(_wrap(d, cap, small, CELL)):
                d.text((x, y + CELL + 3 + 15 * k), line, fill=(70, 70, 70), font=small)
    return sheet


def _as_image(a: np.ndarray) -> Image.Image:
    a = np.asarray(a)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(a[..., :3] if a.ndim == 3 else a)


def truth_image(target: np.ndarray, photo_rgb: np.ndarray, output_mode: str) -> Image.Image:
    """The ground truth drawn like the model's output: a mask as a cut-out of the photo when the
    output is one (RGBA), else as grey; an image as it is."""
    t = np.asarray(target)
    if t.ndim == 2 and output_mode == "RGBA":
        rgb = Image.fromarray(photo_rgb).resize((t.shape[1], t.shape[0]), Image.BILINEAR)
        im = rgb.convert("RGBA")
        im.putalpha(_as_image(t))
        return im
    return _as_image(t)


def _metric_caption(task: str, m: Dict[str, Any]) -> str:
    return ", ".join(f"{k} {m[k]:.3g}" for k in shown_metrics(task) if isinstance(m.get(k), (int, float)))


def task_grid(row: Dict[str, Any], data: Path, out: Path, images: int = 4) -> Grid:
    """Write ``out``: ``images`` test inputs of the row's task, the output of the row's model
    through the runtime and the ground truth (or a generator's contact sheet)."""
    from .. import runtime
    task, tag = row["task"], f"{row.get('variant', '?')}/{row.get('key', '?')}"
    d = row.get("dir")
    if not d or not Path(d).is_dir():
        return Grid(None, note=f"{task}: the shipped model {tag} is not at {d} any more "
                               f"(moved or deleted since the bench): no grid")
    try:
        model = runtime.load(d)
    except Exception as e:   # a broken or replaced model, a missing engine: a note, the report goes on
        return Grid(None, note=f"{task}: cannot load {d} ({' '.join(str(e).split())[:300]}): no grid")
    if model.spec.input.kind == "latent":
        return _contact_sheet(model, row, out, images * GENERATOR_SAMPLES_PER_IMAGE)
    from ..tasks import get_task
    t = get_task(task)
    root = task_data_root(Path(data), task)
    try:
        pairs = t.eval_pairs(root, "test")[:images]
    except Exception as e:   # DatasetError and friends: no split there
        return Grid(None, note=f"{task}: no test split under {root} ({' '.join(str(e).split())[:200]}): "
                               f"no grid (pass --data)")
    if not pairs:
        return Grid(None, note=f"{task}: the test split under {root} is empty: no grid")
    grey_input = model.spec.input.channels == "L"
    columns = ["input (test split)", f"output: {tag}", "ground truth"]
    cells: List[List[Image.Image]] = []
    captions: List[List[str]] = []
    for img, tgt in pairs:
        res = model.predict(img, downscale=True)
        shown = res.image()
        photo = res.photo.rgb
        inp = Image.fromarray(photo).convert("L") if grey_input else Image.fromarray(photo)
        pred = res.outputs[model.primary_output]
        m = score_pairs([(img, tgt)], lambda _p, pred=pred: pred, t.load_target, t.metrics, "test")
        target = t.load_target(tgt)
        cells.append([inp, shown, truth_image(target, photo, shown.mode)])
        captions.append([f"{Path(img).name} {photo.shape[1]}x{photo.shape[0]}",
                         _metric_caption(task, m) or f"{shown.size[0]}x{shown.size[1]}",
                         f"{Path(tgt).name} {np.asarray(target).shape[1]}x{np.asarray(target).shape[0]}"])
    compose(columns, cells, captions).save(out)
    alpha = any(row_cells[1].mode == "RGBA" for row_cells in cells)
    return Grid(out, caption=(f"{task}: {len(pairs)} test image(s) of {root}, through edgephoto.runtime with the "
                              f"shipped model {tag} ({model.engine.name}); per output: the task's metrics on "
                              f"that image." + (" Transparent parts of cut-outs are shown over a checkerboard."
                                                if alpha else "")))


def _contact_sheet(model, row: Dict[str, Any], out: Path, n: int) -> Grid:
    from ..runtime.pipeline import contact_sheet
    samples = model.generate(n, SAMPLE_SEED)
    side = samples[0].shape[0]
    k = max(1, 128 // side)   # small samples are enlarged (nearest) so their pixels can be seen
    big = [np.asarray(Image.fromarray(s).resize((s.shape[1] * k, s.shape[0] * k), Image.NEAREST)) for s in samples]
    contact_sheet(big, pad=4).save(out)
    return Grid(out, caption=(f"{row['task']}: {n} samples of seed {SAMPLE_SEED} from the shipped generator "
                              f"{row.get('variant')}/{row.get('key')} through edgephoto.runtime "
                              f"({side}x{side} px" + (f", shown at {k}x" if k > 1 else "") + ")."))
