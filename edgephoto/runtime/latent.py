"""Latent vectors from a seed, the same in Python and in the browser (``web/edgephoto.js``).

A generator's input is ``N x D`` standard-normal values. numpy's generators cannot be replayed in
JavaScript, so the values come from a counter-based hash that both can compute exactly: value
``j`` of sample ``i`` (counter ``c = i * D + j``; pairs ``c = 2k, 2k + 1`` share one Box-Muller
draw) uses two uniforms ``u = (lowbias32(seed * 0x9E3779B9 + 2k + t) + 0.5) / 2^32``, t = 0, 1,
where ``lowbias32`` is Chris Wellons' 32-bit integer hash. Then ``r = sqrt(-2 ln u0)``,
``z_2k = r cos(2 pi u1)``, ``z_2k+1 = r sin(2 pi u1)``, in float64, rounded to float32.

Sample ``i`` does not depend on how many are drawn: the first 16 of ``--n 100`` are ``--n 16``.

    python -m edgephoto.runtime.latent 7 2 4        # seed 7, 2 samples of 4 values
"""

from __future__ import annotations

import sys

import numpy as np

GOLDEN = np.uint32(0x9E3779B9)
MAX_SEED = 2 ** 32 - 1


def lowbias32(x: np.ndarray) -> np.ndarray:
    """Wellons' lowbias32 on uint32 arrays (arithmetic modulo 2^32)."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x21F0AAAD)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0xD35A2D97)
    x ^= x >> np.uint32(15)
    return x


def latents(seed: int, n: int, dim: int, start: int = 0) -> np.ndarray:
    """Samples ``start .. start + n - 1`` of ``seed``: float32 ``n x dim`` standard normals."""
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        from ..errors import UserError
        raise UserError(f"seed must be an integer in [0, {MAX_SEED}], got {seed}")
    first, count = start * dim, n * dim
    pairs = np.arange(first // 2, (first + count + 1) // 2 + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        base = np.uint32(seed) * GOLDEN
    c0 = ((pairs * 2) & 0xFFFFFFFF).astype(np.uint32)
    with np.errstate(over="ignore"):
        u0 = (lowbias32(base + c0).astype(np.float64) + 0.5) / 2.0 ** 32
        u1 = (lowbias32(base + c0 + np.uint32(1)).astype(np.float64) + 0.5) / 2.0 ** 32
    r = np.sqrt(-2.0 * np.log(u0))
    z = np.stack([r * np.cos(2 * np.pi * u1), r * np.sin(2 * np.pi * u1)], 1).reshape(-1)
    off = first - int(pairs[0]) * 2
    return z[off:off + count].astype(np.float32).reshape(n, dim)


def main(argv=None) -> int:
    args = [int(a) for a in (sys.argv[1:] if argv is None else argv)]
    seed, n, dim = (args + [7, 2, 4][len(args):])[:3]
    np.set_printoptions(precision=6, suppress=True)
    print(latents(seed, n, dim))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
