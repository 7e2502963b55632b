"""Pull the largest JPEG out of a binary blob, as Enlightenment's ``.edj`` wallpapers store them.

An ``.edj`` (an Eet archive) keeps the same wallpaper at several sizes as plain JPEG streams among
its other entries. Rather than parse Eet, scan for JPEG start markers, ask Pillow for each
candidate's size, and return the bytes of the largest one that decodes completely::

    from edgephoto.fetch.edj import largest_jpeg
    jpeg = largest_jpeg(Path("Leaves.edj").read_bytes())   # bytes or None
"""

from __future__ import annotations

import io
from typing import Iterator, List, Optional, Tuple

SOI = b"\xff\xd8\xff"  # start of image + the first byte of the next marker


def jpeg_end(blob: bytes, start: int) -> int:
    """Index just past the EOI marker of the JPEG starting at ``start`` (``len(blob)`` if none).

    Walk the header segments by their lengths (an EXIF thumbnail inside APP1 has its own EOI, so
    a plain search would stop too early), then look for EOI in the entropy-coded data, where a
    0xFF byte is always followed by 0x00 or a restart/next-scan marker, never by 0xD9.
    """
    i = start + 2
    n = len(blob)
    while i + 4 <= n:
        if blob[i] != 0xFF:
            return n
        marker = blob[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:
            return i + 2
        seg_len = int.from_bytes(blob[i + 2:i + 4], "big")
        if marker == 0xDA:  # start of scan: entropy-coded data follows its header
            j = blob.find(b"\xff\xd9", i + 2 + seg_len)
            return n if j < 0 else j + 2
        i += 2 + seg_len
    return n


SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(blob: bytes, start: int) -> Optional[Tuple[int, int]]:
    """``(width, height)`` from the frame header of the JPEG at ``start``, or None if there is none."""
    i = start + 2
    n = len(blob)
    while i + 9 <= n and blob[i] == 0xFF:
        marker = blob[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        seg_len = int.from_bytes(blob[i + 2:i + 4], "big")
        if seg_len < 2 or marker in (0xD9, 0xDA):  # no frame header before the image data
            return None
        if marker in SOF_MARKERS:
            h = int.from_bytes(blob[i + 5:i + 7], "big")
            w = int.from_bytes(blob[i + 7:i + 9], "big")
            return (w, h) if w and h else None
        i += 2 + seg_len
    return None


def jpeg_candidates(blob: bytes) -> Iterator[Tuple[int, int, int]]:
    """Yield ``(start, width, height)`` for every offset with a well-formed JPEG frame header."""
    pos = blob.find(SOI)
    while pos >= 0:
        size = jpeg_size(blob, pos)
        if size:
            yield pos, size[0], size[1]
        pos = blob.find(SOI, pos + 3)


def largest_jpeg(blob: bytes) -> Optional[bytes]:
    """The bytes of the largest JPEG in ``blob`` that decodes without error, or None."""
    from PIL import Image

    found: List[Tuple[int, int]] = [(w * h, start) for start, w, h in jpeg_candidates(blob)]
    for _, start in sorted(found, reverse=True):
        data = blob[start:jpeg_end(blob, start)]
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()  # truncated or corrupt streams raise here
            return data
        except Exception:
            continue
    return None
