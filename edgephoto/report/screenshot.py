"""A full-page screenshot of the report in headless Chromium (``edgephoto report --screenshot X.png``).

With node and playwright-core (``make web-deps``, as the browser tests use) the page is opened in
Debian's Chromium, checked (every ``<img>`` decoded, the bench table present) and captured whole;
without playwright-core, Chromium's own ``--screenshot`` captures a tall window and the empty bottom
is trimmed. Without Chromium (``apt-get install -y chromium``; ``$EDGEPHOTO_CHROMIUM`` names another
one) there is no screenshot and one line says so. Try: ``python -m edgephoto.report.screenshot
reports/report.html reports/report.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

from ..bench.browser import WEB, default_chromium

WIDTH = 1280
TALL = 16000   # the window height of the fallback capture (then trimmed)

# CommonJS, run by node with playwright-core's absolute path: no package.json next to it needed
PLAYWRIGHT_SCRIPT = r"""
const [pw, exe, url, out, width] = process.argv.slice(2);
const { chromium } = require(pw);
(async () => {
  const browser = await chromium.launch({ executablePath: exe, headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  try {
    const page = await browser.newPage({ viewport: { width: Number(width), height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url, { waitUntil: "load" });
    await page.evaluate(() => Promise.all(Array.from(document.images, (i) => i.decode().catch(() => null))));
    await page.screenshot({ path: out, fullPage: true });
    const info = await page.evaluate(() => ({
      images: Array.from(document.images, (i) => ({ src: i.getAttribute("src"), naturalWidth: i.naturalWidth,
                                                   naturalHeight: i.naturalHeight })),
      tables: document.querySelectorAll("table").length,
      bench_rows: document.querySelectorAll("table#bench tbody tr").length,
      height: document.documentElement.scrollHeight,
    }));
    info.errors = errors;
    console.log(JSON.stringify(info));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
"""


def _playwright() -> Optional[Path]:
    p = WEB / "node_modules" / "playwright-core"
    return p if p.is_dir() and shutil.which("node") else None


def _trim_bottom(png: Path) -> None:
    """Crop the rows at the bottom that are all the page's background colour."""
    import numpy as np
    from PIL import Image
    with Image.open(png) as im:
        a = np.asarray(im.convert("RGB"))
    bg = a[-1, -1]
    rows = np.nonzero(np.any(np.abs(a.astype(int) - bg).sum(-1) > 12, axis=1))[0]
    bottom = int(rows[-1]) + 25 if rows.size else a.shape[0]
    Image.fromarray(a[:min(bottom, a.shape[0])]).save(png)


def take_screenshot(html: Path, png: Path, width: int = WIDTH, chromium: Optional[str] = None,
                    timeout: float = 180) -> Dict[str, Any]:
    """Screenshot ``html`` into ``png`` (written atomically). Returns ``{"ok": bool, "note": one line,
    "method": "playwright" | "chromium"}`` and, with playwright, what the page showed: ``images``
    (``src``, ``naturalWidth``, ``naturalHeight`` each), ``tables``, ``bench_rows``, ``height``."""
    exe = chromium or default_chromium()
    if not Path(exe).exists():
        return {"ok": False, "note": f"no screenshot: no chromium at {exe} (apt-get install -y chromium)"}
    html, png = Path(html).resolve(), Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=png.parent, prefix=f".{png.stem}.", suffix=".png")
    os.close(fd)
    url = html.as_uri()
    try:
        pw = _playwright()
        if pw is not None:
            with tempfile.TemporaryDirectory(prefix="edgephoto-shot-") as td:
                script = Path(td) / "shot.cjs"
                script.write_text(PLAYWRIGHT_SCRIPT)
                r = subprocess.run(["node", str(script), str(pw), exe, url, tmp, str(width)],
                                   capture_output=True, text=True, timeout=timeout)
            lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
            if r.returncode != 0 or not lines:
                tail = " ".join((r.stderr or "").strip().splitlines()[-2:])[:300]
                return {"ok": False, "method": "playwright", "note": f"no screenshot: chromium failed ({tail})"}
            info = json.loads(lines[-1])
            broken = [i["src"] for i in info["images"] if not i["naturalWidth"]]
            os.chmod(tmp, 0o644)
            os.replace(tmp, png)
            note = (f"screenshot {png} ({width}x{info['height']} px, {len(info['images'])} image(s)"
                    + (f"; NOT loaded: {', '.join(broken)}" if broken else ", all loaded") + ")")
            return {"ok": not broken, "method": "playwright", "note": note, **info}
        with tempfile.TemporaryDirectory(prefix="edgephoto-chromium-") as profile:
            r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                                f"--window-size={width},{TALL}", f"--screenshot={tmp}", url],
                               capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0 or not Path(tmp).stat().st_size:
            tail = " ".join((r.stderr or "").strip().splitlines()[-2:])[:300]
            return {"ok": False, "method": "chromium", "note": f"no screenshot: chromium failed ({tail})"}
        _trim_bottom(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, png)
        return {"ok": True, "method": "chromium",
                "note": f"screenshot {png} (chromium --screenshot; `make web-deps` for an exact full page)"}
    except subprocess.TimeoutExpired:
        return {"ok": False, "note": f"no screenshot: chromium did not finish in {timeout:.0f} s"}
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m edgephoto.report.screenshot REPORT.html OUT.png", file=sys.stderr)
        return 2
    res = take_screenshot(Path(args[0]), Path(args[1]))
    print(res["note"])
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
