"""Read the files inside a Qt resource bundle (``.rcc``), as GCompris ships its images.

Only what ``edgephoto fetch`` needs: list the files of a binary ``.rcc`` with their bytes. Usage::

    from edgephoto.fetch.rcc import read_rcc
    for path, data in read_rcc(Path("animals.rcc").read_bytes()):
        ...

Layout (big-endian throughout): ``qres``, version, then the offsets of the tree, data and names
sections (version 3 adds a flags word). A tree node is 14 bytes, 22 from version 2 on (an 8-byte
modification time follows): name offset (4), flags (2), then for a directory child count (4) and
the index of its first child node (4), for a file territory (2), language (2) and data offset (4).
Node 0 is the root directory. A name is a 2-byte length, a 4-byte hash, then UTF-16BE; a data
entry is a 4-byte length then the bytes, which for a compressed file start with the 4-byte
uncompressed length that ``qCompress`` puts before the zlib stream.
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterator, List, Tuple

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
