// Time web/edgephoto.js in headless Chromium (playwright-core + Debian's /usr/bin/chromium), one
// fresh page per TF.js backend: the driver of `edgephoto bench --browser` (edgephoto/bench/browser.py).
//
//   node web/browser-bench.mjs <spec.json> [--chromium PATH]
//
// spec.json: {"base": "http://127.0.0.1:PORT", "page": "/web/bench.html", "backends": ["webgl", "wasm"],
//             "runs": 3, "warmup": 1, "side": 1024, "timeout_s": 600,
//             "jobs": [{"task", "variant", "key", "manifest": "/dist/.../manifest.json", "photo": "/photo.jpg"}]}
// Prints one JSON line: {"browser": version, "backends": {name: info | {"error"}}, "results": [...]};
// a job that fails gets {"error"} instead of timings (the bench reports it, never fails on it).
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { takeOption } from "./cli-args.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => takeOption(args, name, dflt);
const exe = opt("--chromium", "/usr/bin/chromium");
const spec = JSON.parse(readFileSync(args[0], "utf8"));
const report = { backends: {}, results: [], console: [] };
const short = (e) => String(e && e.message ? e.message : e).split("\n")[0].slice(0, 300);

async function main() {
  const browser = await chromium.launch({
    executablePath: exe, headless: true,
    // WebGL in headless Chromium without a GPU: ANGLE on SwiftShader (software)
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
  });
  report.browser = browser.version();
  const timeout = 1000 * (spec.timeout_s || 600);
  try {
    for (const backend of spec.backends) {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(timeout);
      page.on("pageerror", (e) => report.console.push(`${backend}: pageerror: ${e.message}`));
      try {
        await page.goto(spec.base + spec.page);
        await page.waitForFunction(() => window.edgephotoBench, null, { timeout: 60000 });
        let info;
        try {
          info = await page.evaluate((b) => window.edgephotoBench.init(b), backend);
          if (info.backend !== backend) throw new Error(`asked for ${backend}, got ${info.backend}`);
        } catch (e) {
          report.backends[backend] = { error: short(e) };
          continue;
        }
        report.backends[backend] = info;
        let shown = null;
        for (const job of spec.jobs) {
          const row = { task: job.task, variant: job.variant, key: job.key, backend };
          try {
            const side = job.side || spec.side;   // a 4x upscaler: the photo at side / 4, its output side
            if (job.photo && shown !== `${job.photo}@${side}`) {
              row.size = await page.evaluate(([u, s]) => window.edgephotoBench.photo(u, s), [job.photo, side]);
              shown = `${job.photo}@${side}`;
            }
            Object.assign(row, await page.evaluate(([m, r, w, g]) => window.edgephotoBench.time(m, r, w, g),
                                                   [job.manifest, spec.runs, spec.warmup, job.generate || null]));
          } catch (e) {
            row.error = short(e);
            shown = null;
          }
          report.results.push(row);
        }
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: short(e), ...report }));
  process.exit(1);
});
