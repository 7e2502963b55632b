// Drive the editor page in headless Chromium (playwright-core + Debian's /usr/bin/chromium).
//
//   node web/browser-check.mjs <page URL> <photo.png | -> <out dir> [--chromium PATH] [--big big.png] [--gif x.gif]
//                              [--generate SIDE:COUNT:SEED]
//
// Uploads the photo, runs Remove background, Auto retouch and an adjustment (brightness auto +
// contrast 20), writes each result's exact RGBA pixels (<out>/matte.rgba, retouch.rgba,
// adjust.rgba) and the result canvas's read-back (<out>/canvas.rgba), screenshots, then checks
// rejected inputs ("-" instead of a photo skips all that). The Generate section's controls are
// reported (report.generate: each one's disabled state and the section's message); with
// --generate it asks for 101 images (refused), then generates COUNT images of SEED at SIDE px,
// writes their pixels (<out>/gen-<i>.rgba), saves the selected one and the contact sheet.
// Prints one JSON line with what it saw (used by tests/test_web.py, tests/test_web_generate.py).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { takeOption } from "./cli-args.mjs";

const args = process.argv.slice(2);
const opt = (name, dflt) => takeOption(args, name, dflt);
const exe = opt("--chromium", "/usr/bin/chromium");
const big = opt("--big", null);
const gif = opt("--gif", null);
const generate = opt("--generate", null);
const GEN_CONTROLS = ["gen-seed", "gen-count", "gen-size", "generate", "gen-stop", "gen-save", "gen-sheet", "gen-edit"];
const [url, photo, out] = args;
const report = { steps: {}, console: [] };

async function waitIdle(page, timeout = 120000) {
  await page.waitForFunction(() => window.edgephotoApp && !window.edgephotoApp.state.busy, null, { timeout });
}

async function saveResult(page, name) {
  const r = await page.evaluate(() => window.edgephotoApp.result());
  writeFileSync(path.join(out, `${name}.rgba`), Buffer.from(Uint8Array.from(r.data)));
  return [r.width, r.height];
}

async function step(page, name, selector) {
  await page.click(selector);
  await page.waitForFunction(() => window.edgephotoApp.state.busy, null, { timeout: 5000 }).catch(() => {});
  await waitIdle(page);
  const status = await page.textContent("#status");
  const size = await saveResult(page, name);
  const mem = await page.evaluate(() => window.edgephotoApp.memory().numTensors);
  report.steps[name] = { status, size, numTensors: mem };
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: exe, headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on("console", (m) => report.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => report.console.push(`pageerror: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => /backend: \w+/.test(document.getElementById("backend").textContent), null, { timeout: 60000 });
    report.backendLabel = await page.textContent("#backend");
    report.disabledBeforeUpload = await page.evaluate(() =>
      ["remove-bg", "retouch", "colorize", "adjust", "save"].every((id) => document.getElementById(id).disabled));
    await page.waitForFunction(() => window.edgephotoApp.state.gen.ready, null, { timeout: 30000 });
    report.generate = await page.evaluate((ids) => ({
      disabled: Object.fromEntries(ids.map((id) => [id, document.getElementById(id).disabled])),
      message: document.getElementById("gen-message").textContent,
      sizes: Array.from(document.getElementById("gen-size").options).filter((o) => !o.disabled).map((o) => Number(o.value)),
    }), GEN_CONTROLS);
    if (photo !== "-") await editPhoto(page);
    if (generate) await generateArt(page);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
}

async function generateArt(page) {
  const [side, count, seed] = generate.split(":");
  const g = report.generateRun = {};
  await page.selectOption("#gen-size", side);
  await page.fill("#gen-seed", seed);
  await page.fill("#gen-count", "101");
  await page.click("#generate");
  await page.waitForFunction(() => /at most 100 images/.test(document.getElementById("gen-message").textContent), null, { timeout: 30000 });
  g.refused = await page.textContent("#gen-message");
  await waitIdle(page);
  await page.fill("#gen-count", count);
  await page.click("#generate");
  await page.waitForFunction(() => window.edgephotoApp.state.busy, null, { timeout: 5000 }).catch(() => {});
  await waitIdle(page, 300000);
  g.status = await page.textContent("#status");
  g.message = await page.textContent("#gen-message");
  g.caption = await page.textContent("#gen-caption");
  const images = await page.evaluate(() => window.edgephotoApp.generated());
  images.forEach((im, i) => writeFileSync(path.join(out, `gen-${i}.rgba`), Buffer.from(Uint8Array.from(im.data))));
  g.sizes = images.map((im) => [im.width, im.height]);
  g.numTensors = await page.evaluate(() => window.edgephotoApp.memory().numTensors);
  g.saveEnabled = await page.evaluate(() => !document.getElementById("gen-save").disabled);
  await page.screenshot({ path: path.join(out, "generate.png"), fullPage: true });
  for (const [key, sel] of [["saved", "#gen-save"], ["sheet", "#gen-sheet"]]) {
    const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), page.click(sel)]);
    g[key] = path.join(out, dl.suggestedFilename());
    await dl.saveAs(g[key]);
    await waitIdle(page);
  }
}

async function editPhoto(page) {
  await page.setInputFiles("#file", photo);
  await page.waitForFunction(() => window.edgephotoApp.state.original, null, { timeout: 30000 });
  report.uploadMessage = await page.textContent("#message");

  await step(page, "matte", "#remove-bg");
  // a second run: the model is loaded once and no tensor leaks
  await step(page, "matte2", "#remove-bg");
  await step(page, "retouch", "#retouch");
  await page.check("#auto-brightness");
  await page.fill("#val-contrast", "20");
  await page.dispatchEvent("#val-contrast", "input");
  await step(page, "adjust", "#adjust");
  const canvas = await page.evaluate(() => {
    const c = document.getElementById("result");
    return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data);
  });
  writeFileSync(path.join(out, "canvas.rgba"), Buffer.from(Uint8Array.from(canvas)));
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), page.click("#save")]);
  const saved = path.join(out, dl.suggestedFilename());
  await dl.saveAs(saved);
  report.saved = saved;
  report.backend = await page.evaluate(() => window.edgephotoApp.backend());
  report.timings = await page.evaluate(() => window.edgephotoApp.state.timings);

  if (gif) {
    await page.setInputFiles("#file", gif);
    await page.waitForFunction(() => /only JPEG and PNG/.test(document.getElementById("message").textContent), null, { timeout: 10000 });
    report.gifMessage = await page.textContent("#message");
  }
  if (big) {
    await page.setInputFiles("#file", big);
    await page.waitForFunction(() => /largest accepted image/.test(document.getElementById("message").textContent), null, { timeout: 10000 });
    report.bigMessage = await page.textContent("#message");
    report.downscaleVisible = await page.isVisible("#downscale");
    await page.screenshot({ path: path.join(out, "rejected.png"), fullPage: true });
    await page.click("#downscale");
    await page.waitForFunction(() => /downscaled/.test(document.getElementById("message").textContent), null, { timeout: 30000 });
    report.downscaled = await page.evaluate(() => [window.edgephotoApp.state.original.width, window.edgephotoApp.state.original.height]);
  }
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack ? e.stack : e), ...report }));
  process.exit(1);
});
