"""The fetched real photographs, cut-outs and artworks (``edgephoto fetch`` -> ``sources/``), split by
source file.

Built-in datasets call :func:`real_sources` to find what ``sources/index.json`` lists as kept
(drawings are already filtered out by the fetcher). Every file goes to exactly one split, decided by
a hash of its *content group*, so no test image shares a photo or a cut-out with training:

- the content group is an 8x8 difference hash of the picture, so the same photo shipped twice (at
  two sizes, or in two packages) lands in one split, not two;
- photos: about 14% of the groups are test, 7% val, the rest train; cut-outs, of which there are
  fewer, 20% / 8%; artworks 15% / 5% (``SPLIT_SHARES``). The hashes are cached in
  ``<sources>/groups.json``;
- artworks (kind ``art``) also carry an ``artwork`` key from the fetcher (variants of one painting,
  e.g. Wesnoth's ``landscape-bridge`` and ``landscape-bridge_sun``, share it): artworks linked by a
  key or by a picture hash form one group, so variants never straddle two splits either.

``EDGEPHOTO_SOURCES`` (default ``sources``) points at another fetch cache. Without one the built-in
datasets fall back to generated scenes and say so.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

SPLIT_SHARES = {"photo": (("test", 0.14), ("val", 0.07), ("train", 0.79)),
                "cutout": (("test", 0.20), ("val", 0.08), ("train", 0.72)),
                "art": (("test", 0.15), ("val", 0.05), ("train", 0.80))}
KINDS = tuple(SPLIT_SHARES)


def sources_root() -> Path:
    return Path(os.environ.get("EDGEPHOTO_SOURCES", "sources"))


@dataclass(frozen=True)
class SourceFile:
    path: Path          # absolute (or cache-relative resolved) path of the extracted file
    source: str         # fetch source name, e.g. "gcompris"
    package: str
    version: str
    licence: str
    sha256: str
    kind: str           # "photo" | "cutout" | "art"
    group: str          # content hash: files with the same picture share it (and the split)
    split: str
    style: str = ""     # artworks: the style the fetcher recorded ("japanese-print", "portrait"...)


def dhash(path: Path) -> str:
    """64-bit difference hash of the picture (grey 9x8, neighbour comparisons), as 16 hex digits."""
    with Image.open(path) as im:
        g = np.asarray(im.convert("L").resize((9, 8), Image.BILINEAR), np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return "%016x" % int("".join("1" if b else "0" for b in bits), 2)


def split_of(group: str, kind: str, salt: str = "edgephoto-split-v1") -> str:
    h = int(hashlib.sha256(f"{salt}:{group}".encode()).hexdigest()[:8], 16) / 2 ** 32
    acc = 0.0
    for name, share in SPLIT_SHARES[kind]:
        acc += share
        if h < acc:
            return name
    return SPLIT_SHARES[kind][-1][0]


def artwork_groups(records: Sequence[tuple]) -> Dict[int, str]:
    """``[(index record, picture hash)]`` of artworks -> ``id(record)`` -> group: the connected
    components of "same picture hash" and "same ``artwork`` key", named by their smallest hash."""
    parent: Dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for r, g in records:
        find(f"hash:{g}")
        if r.get("artwork"):
            a, b = find(f"hash:{g}"), find(f"artwork:{r['artwork']}")
            if a != b:
                parent[max(a, b)] = min(a, b)
    names: Dict[str, str] = {}
    for r, g in records:
        names[find(f"hash:{g}")] = min(names.get(find(f"hash:{g}"), g), g)
    return {id(r): names[find(f"hash:{g}")] for r, g in records}


@lru_cache(maxsize=4)
def _load(root: str) -> tuple:
    index = Path(root) / "index.json"
    if not index.exists():
        return ()
    try:
        records = json.loads(index.read_text()).get("files", [])
    except ValueError:
        return ()
    cache_path = Path(root) / "groups.json"
    try:
        groups: Dict[str, str] = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        groups = {}
    n_cached = len(groups)
    out = []
    for r in records:
        if r.get("kind") not in KINDS or not r.get("kept"):
            continue
        p = Path(root) / r["path"]
        if not p.exists():
            continue
        group = groups.get(r["sha256"])
        if group is None:
            try:
                group = groups[r["sha256"]] = dhash(p)
            except OSError:
                continue
        out.append((r, p, group))
    art_groups = artwork_groups([(r, g) for r, _, g in out if r["kind"] == "art"])
    out = [SourceFile(p, r["source"], r.get("package", ""), r.get("version", ""), r.get("licence", ""),
                      r["sha256"], r["kind"], art_groups.get(id(r), group),
                      split_of(art_groups.get(id(r), group), r["kind"]),
                      (r.get("style") or "") if r["kind"] == "art" else "")
           for r, p, group in out]
    if len(groups) != n_cached:
        try:
            from ..runtime.manifest import write_json_atomic
            write_json_atomic(cache_path, groups)
        except OSError:  # a read-only cache: hash again next time
            pass
    return tuple(sorted(out, key=lambda f: (f.kind, f.source, str(f.path))))


def real_sources(kind: str, split: Optional[str] = None, root: Optional[Path] = None) -> List[SourceFile]:
    """Kept fetched files of ``kind`` ("photo" / "cutout" / "art"), optionally of one split."""
    files = _load(str(root or sources_root()))
    return [f for f in files if f.kind == kind and (split is None or f.split == split)]


def split_files(kind: str, split: str) -> List[SourceFile]:
    """The split's own files of ``kind``; one clear error when it has none (never borrow another
    split's files: that would put training sources into the test split)."""
    files = real_sources(kind, split)
    if not files:
        from ..errors import UserError
        raise UserError(f"the fetch cache {sources_root()}/ has no {kind} in the '{split}' split "
                        f"({len(real_sources(kind))} in all): fetch more sources (`make fetch`)")
    return files


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of sample ``index`` of a split (the real recipes are deterministic)."""
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index, 31])


DECODE_SIDE = 768               # photos are decoded at most this large (JPEG draft mode), kept <= 2x


@lru_cache(maxsize=64)
def load_photo(path: str) -> np.ndarray:
    """uint8 RGB of a fetched photo, decoded small: the recipes crop and resize it anyway."""
    with Image.open(path) as im:
        im.draft("RGB", (DECODE_SIDE, DECODE_SIDE))
        im = im.convert("RGB")
        if max(im.size) > 2 * DECODE_SIDE:
            k = 2 * DECODE_SIDE / max(im.size)
            im = im.resize((max(1, round(im.size[0] * k)), max(1, round(im.size[1] * k))), Image.BILINEAR)
        return np.asarray(im)


def licence_summary(records: Sequence[Dict[str, Any]]) -> str:
    """Records of ``sources.json`` -> "gcompris-qt-data 3.1-2 (GPL-3+): 199 photos; ..." (model cards)."""
    counts: Dict[tuple, int] = {}
    for f in records:
        key = (f["package"], f["version"], f["licence"], f["kind"])
        counts[key] = counts.get(key, 0) + 1
    nouns = {"art": "artwork"}
    return "; ".join(f"{p} {v} ({lic}): {n} {nouns.get(k, k)}{'s' if n > 1 else ''}"
                     for (p, v, lic, k), n in sorted(counts.items()))


def write_manifest(root: Path, used: Dict[str, List[SourceFile]]) -> None:
    """``root/sources.json``: which fetched file went to which split (proof of the split by file)."""
    from ..runtime.manifest import write_json_atomic
    write_json_atomic(Path(root) / "sources.json", {
        split: [{"path": str(f.path), "source": f.source, "package": f.package, "version": f.version,
                 "licence": f.licence, "sha256": f.sha256, "kind": f.kind, "group": f.group,
                 **({"style": f.style} if f.style else {})}
                for f in files]
        for split, files in used.items()})


def square_crop(seed: int, split: str, index: int, side: int, multiple: int = 1) -> np.ndarray:
    """Sample ``index`` of a split: a square crop (at most ``side``, a multiple of ``multiple``) of
    one of the split's photos at its decoded resolution, uint8 HxWx3."""
    rng = sample_rng(seed, split, index)
    photos = split_files("photo", split)
    ph = load_photo(str(photos[int(rng.integers(len(photos)))].path))
    h, w = ph.shape[:2]
    s = min(side, h, w) // multiple * multiple
    y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
    return np.ascontiguousarray(ph[y:y + s, x:x + s])


def write_photo_pairs(root: Path, make, sizes: Dict[str, int], dirs, exts=(".jpg", ".png"), seed: int = 0,
                      progress=None, workers: Optional[int] = None) -> Dict[str, int]:
    """A photo-only recipe's ``generate``: ``root/sources.json`` (which photos each split used, with
    their licences), then ``sizes[split]`` pairs per split from ``make(seed, split, i)``."""
    from .generate import write_pairs
    real_sources("photo")                        # hash the sources once, before the workers fork
    write_manifest(root, {s: real_sources("photo", s) for s in sizes})
    return write_pairs(root, make, sizes, dirs, exts=exts, seed=seed, progress=progress, workers=workers)
