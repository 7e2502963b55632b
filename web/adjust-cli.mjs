// node web/adjust-cli.mjs in.rgb WIDTH HEIGHT out.rgb '{"brightness":"auto"}'
// Raw RGB8 in and out (no image codecs in plain Node): used by tests/test_adjust.py for parity.
import { readFileSync, writeFileSync } from "node:fs";
import { adjust } from "./edgephoto-adjust.js";

const [inp, w, h, outp, json] = process.argv.slice(2);
const rgb = readFileSync(inp);
const width = Number(w), height = Number(h), n = width * height;
const data = new Uint8ClampedArray(4 * n);
for (let i = 0; i < n; i++) {
  for (let c = 0; c < 3; c++) data[4 * i + c] = rgb[3 * i + c];
  data[4 * i + 3] = 255;
}
try {
  const { image, done } = adjust({ data, width, height }, JSON.parse(json));
  const out = Buffer.alloc(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = image.data[4 * i + c];
  writeFileSync(outp, out);
  console.log(JSON.stringify(done));
} catch (e) {
  console.error(`error: ${e.message}`);
  process.exit(2);
}
