"""Read the files inside a Qt resource bundle (``.rcc``), as GCompris ships its images.

Only what ``edgephoto fetch`` needs: list the files of a binary ``.rcc`` with their bytes. Usage::

    from edgephoto.fetch.rcc import read_rcc
    for path, data in read_rcc(Path("animals.rcc").read_bytes()):
        ...

and, for GCompris' puzzle activities, parse a board (``parse_board``) and put a painting cut into
jigsaw tiles back together (``assemble_tiles``); see the section at the end.

Layout (big-endian throughout): ``qres``, version, then the offsets of the tree, data and names
sections (version 3 adds a flags word). A tree node is 14 bytes, 22 from version 2 on (an 8-byte
modification time follows): name offset (4), flags (2), then for a directory child count (4) and
the index of its first child node (4), for a file territory (2), language (2) and data offset (4).
Node 0 is the root directory. A name is a 2-byte length, a 4-byte hash, then UTF-16BE; a data
entry is a 4-byte length then the bytes, which for a compressed file start with the 4-byte
uncompressed length that ``qCompress`` puts before the zlib stream.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

FLAG_COMPRESSED = 1   # zlib (qCompress)
FLAG_DIRECTORY = 2
FLAG_ZSTD = 4         # Qt 6 can also use zstd; no packaged file we read does


class RccError(ValueError):
    pass


def read_rcc(blob: bytes) -> Iterator[Tuple[str, bytes]]:
    """Yield ``(path, data)`` for every file in the bundle, paths joined with ``/`` from the root."""
    if blob[:4] != b"qres" or len(blob) < 20:
        raise RccError("not a Qt resource file (no 'qres' header)")
    version, tree, data, names = struct.unpack_from(">IIII", blob, 4)
    if version not in (1, 2, 3):
        raise RccError(f"unsupported rcc version {version}")
    node_size = 14 if version == 1 else 22
    n_nodes = (len(blob) - tree) // node_size  # an upper bound, only used to reject bad indices

    def name_of(node: int) -> str:
        (off,) = struct.unpack_from(">I", blob, tree + node * node_size)
        (length,) = struct.unpack_from(">H", blob, names + off)
        start = names + off + 6  # length (2) + hash (4)
        return blob[start:start + 2 * length].decode("utf-16-be")

    # iterative walk: a malformed file with a cycle must not recurse forever
    stack: List[Tuple[int, str]] = [(0, "")]
    seen = set()
    while stack:
        node, prefix = stack.pop()
        if node in seen or not 0 <= node < n_nodes:
            raise RccError(f"bad tree node {node}")
        seen.add(node)
        base = tree + node * node_size
        (flags,) = struct.unpack_from(">H", blob, base + 4)
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack_from(">II", blob, base + 6)
            for child in reversed(range(first, first + count)):  # reversed: pop in file order
                name = name_of(child)
                stack.append((child, f"{prefix}/{name}" if prefix else name))
            continue
        (offset,) = struct.unpack_from(">I", blob, base + 10)
        (size,) = struct.unpack_from(">I", blob, data + offset)
        payload = blob[data + offset + 4:data + offset + 4 + size]
        if len(payload) != size:
            raise RccError(f"{prefix}: data runs past the end of the file")
        if flags & FLAG_ZSTD:
            raise RccError(f"{prefix}: zstd-compressed resources are not supported")
        if flags & FLAG_COMPRESSED:
            payload = zlib.decompress(payload[4:])
        yield prefix, payload


# --- GCompris puzzle boards -------------------------------------------------------------------
# The "paintings" activity (a Babymatch game) ships each painting cut into jigsaw tiles, RGBA
# images with binary alpha, plus one board per painting, ``resource/board/board<N>_0.qml``:
#
#     property string instruction: qsTr("Katsushika Hokusai, The Great Wave off Kanagawa - 1823-1829")
#     { "pixmapfile": "image/bg.svg", "type": "SHAPE_BACKGROUND_IMAGE", "width": 702, "height": 515 },
#     { "pixmapfile": "image/GreatWave_a1.webp", "x": "0.152", "y": "0.183" }, ...
#
# ``x``/``y`` are where the tile's *centre* goes, as fractions of the board (Babymatch's
# DropAnswerItem centres the tile image on ``posX * width, posY * height``), and the tiles are drawn
# at their own pixel size on the 702 x 515 board. So the painting is rebuilt at the tiles' own
# resolution by centring each tile on ``(x * 702, y * 515)``: on the 22 boards of gcompris-qt-data
# 3.1 that leaves under 0.3% uncovered (only along the outer edge, which is trimmed) and the tiles
# overlap by a few pixels along every cut (they are cut with a small margin), where they are averaged.

def parse_board(text: str) -> Dict[str, Any]:
    """A Babymatch board: ``{"instruction", "width", "height", "background", "tiles": [(file, x, y)]}``.
    ``width``/``height`` are the background's (``None`` when the board gives none)."""
    m = re.search(r'instruction\s*:\s*qsTr\("((?:[^"\\]|\\.)*)"\)', text)
    board: Dict[str, Any] = {"instruction": m.group(1) if m else "", "width": None, "height": None,
                             "background": None, "tiles": []}

    def field(item: str, key: str) -> Optional[str]:
        f = re.search(rf'"{key}"\s*:\s*"?([^",\s}}]+)', item)
        return f.group(1) if f else None

    for item in re.findall(r"\{([^{}]*)\}", text):  # the innermost braces: one level entry each
        pixmap = field(item, "pixmapfile")
        if pixmap is None:
            continue
        if "SHAPE_BACKGROUND" in item:
            board["background"] = pixmap
            w, h = field(item, "width"), field(item, "height")
            board["width"], board["height"] = (int(float(w)) if w else None), (int(float(h)) if h else None)
        else:
            x, y = field(item, "x"), field(item, "y")
            if x is not None and y is not None:
                board["tiles"].append((pixmap, float(x), float(y)))
    return board


def push_pull_fill(rgb: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Extend the colours of ``rgb`` (HxWx3 float) where ``weight`` (HxW, 0..1) is low with a smooth
    fill from where it is high (a push-pull pyramid: halve until one pixel, then blend back up)."""
    from PIL import Image

    levels = [(rgb * weight[..., None], weight)]
    while max(levels[-1][1].shape) > 1:
        p, a = levels[-1]
        h, w = a.shape
        ph, pw = h + h % 2, w + w % 2
        p = np.pad(p, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        a = np.pad(a, ((0, ph - h), (0, pw - w)), mode="edge")
        levels.append((p.reshape(ph // 2, 2, pw // 2, 2, 3).mean((1, 3)),
                       a.reshape(ph // 2, 2, pw // 2, 2).mean((1, 3))))
    p, a = levels[-1]
    colour = p / np.maximum(a, 1e-6)[..., None]
    for p, a in reversed(levels[:-1]):
        h, w = a.shape
        up = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(colour[..., c], np.float32), "F")
                                  .resize((w, h), Image.BILINEAR)) for c in range(3)], -1)
        a = np.clip(a, 0, 1)[..., None]
        colour = np.where(a > 0, p / np.maximum(a, 1e-6), up) * a + up * (1 - a)
    return colour


def assemble_tiles(tiles: Sequence[Tuple[np.ndarray, float, float]], board_w: float, board_h: float,
                   max_trim: float = 0.05) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Rebuild a picture from puzzle tiles: ``(RGBA uint8 tile, centre x, centre y)`` with the centre
    as a fraction of a ``board_w`` x ``board_h`` board, each tile at its own pixel size.

    Returns the uint8 RGB picture and what it took: ``gaps`` (share of the result that no tile
    covered, filled from around), ``overlap`` (share covered by two tiles, averaged) and ``trimmed``
    (rows/columns cut off the left, top, right, bottom edges because tiles did not reach them; at
    most ``max_trim`` of a side)."""
    if not tiles:
        raise ValueError("no tiles")
    placed = []
    for im, cx, cy in tiles:
        h, w = im.shape[:2]
        placed.append((im, int(round(cx * board_w - w / 2)), int(round(cy * board_h - h / 2))))
    x0 = min(x for _, x, _ in placed)
    y0 = min(y for _, _, y in placed)
    W = max(x + im.shape[1] for im, x, _ in placed) - x0
    H = max(y + im.shape[0] for im, _, y in placed) - y0
    acc = np.zeros((H, W), np.float32)
    colour = np.zeros((H, W, 3), np.float32)
    for im, x, y in placed:
        h, w = im.shape[:2]
        a = im[..., 3].astype(np.float32) / 255 if im.shape[2] == 4 else np.ones((h, w), np.float32)
        acc[y - y0:y - y0 + h, x - x0:x - x0 + w] += a
        colour[y - y0:y - y0 + h, x - x0:x - x0 + w] += im[..., :3].astype(np.float32) * a[..., None]
    # trim edge rows/columns the tiles do not fill (an uneven outer border), worst first
    covered = acc >= 0.5
    top, left, bottom, right = 0, 0, H, W
    limit_y, limit_x = int(max_trim * H), int(max_trim * W)
    while bottom - top > 2 and right - left > 2:
        sides = {"top": covered[top, left:right].mean(), "bottom": covered[bottom - 1, left:right].mean(),
                 "left": covered[top:bottom, left].mean(), "right": covered[top:bottom, right - 1].mean()}
        allowed = {"top": top + (H - bottom) < limit_y, "bottom": top + (H - bottom) < limit_y,
                   "left": left + (W - right) < limit_x, "right": left + (W - right) < limit_x}
        worst = min((s for s in sides if allowed[s]), key=lambda s: sides[s], default=None)
        if worst is None or sides[worst] >= 0.995:
            break
        if worst == "top":
            top += 1
        elif worst == "bottom":
            bottom -= 1
        elif worst == "left":
            left += 1
        else:
            right -= 1
    acc, colour = acc[top:bottom, left:right], colour[top:bottom, left:right]
    weight = np.clip(acc, 0, 1)
    mean = colour / np.maximum(acc, 1e-6)[..., None]
    gaps = acc < 0.5
    out = push_pull_fill(mean, weight) if gaps.any() else mean
    info = {"tiles": len(tiles), "gaps": round(float(gaps.mean()), 4),
            "overlap": round(float((acc > 1.5).mean()), 4),
            "trimmed": [left, top, W - right, H - bottom]}
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), info
