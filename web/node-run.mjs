// Run web/edgephoto.js in Node (TF.js + wasm backend from edgephoto/export/node/node_modules).
//
//   node web/node-run.mjs <manifest.json> <in.rgba> WIDTH HEIGHT <out prefix> [--repeat N] [--threads N]
//
// in.rgba: raw RGBA8 (no image codecs in plain Node). Writes <prefix>.rgba (the result ImageData),
// <prefix>.f32 (the mask HxW or the image HxWx3, float32) and prints one JSON line:
// {"backend", "kind", "numTensors": [before, after run 1, after run 2, ...], "ms": [...]}.
// Used by tests/test_web.py for parity with the Python runtime.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";
import { loadModel, setTF, backendName } from "./edgephoto.js";
import { takeOption } from "./cli-args.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "edgephoto", "export", "node", "package.json"));
const tf = require("@tensorflow/tfjs");
const wasm = require("@tensorflow/tfjs-backend-wasm");

const args = process.argv.slice(2);
const opt = (name, dflt) => takeOption(args, name, dflt);
const repeat = Number(opt("--repeat", "1"));
const threads = Number(opt("--threads", "1"));
const [manifest, inp, w, h, prefix] = args;
if (!prefix) {
  console.error("usage: node web/node-run.mjs manifest.json in.rgba WIDTH HEIGHT out_prefix [--repeat N]");
  process.exit(2);
}

async function fileFetch(url) {
  try {
    const buf = readFileSync(fileURLToPath(url));
    return {
      ok: true, status: 200,
      json: async () => JSON.parse(buf.toString("utf8")),
      arrayBuffer: async () => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
    };
  } catch (e) {
    return { ok: false, status: 404 };
  }
}

async function main() {
  wasm.setThreadsCount(threads);
  tf.env().set("DEBUG", false);
  setTF(tf);
  const model = await loadModel(pathToFileURL(path.resolve(manifest)).href, { fetch: fileFetch, backend: "wasm" });
  const width = Number(w), height = Number(h);
  const data = new Uint8ClampedArray(readFileSync(inp));
  if (data.length !== 4 * width * height) throw new Error(`${inp}: ${data.length} bytes, expected ${4 * width * height}`);
  const numTensors = [tf.memory().numTensors];
  const ms = [];
  let res = null;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    res = await model.predict({ data, width, height });
    ms.push(performance.now() - t0);
    numTensors.push(tf.memory().numTensors);
  }
  writeFileSync(`${prefix}.rgba`, Buffer.from(res.imageData.data.buffer));
  const f = res.mask || res.image;
  writeFileSync(`${prefix}.f32`, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
  model.dispose();
  numTensors.push(tf.memory().numTensors);
  console.log(JSON.stringify({ backend: backendName(), kind: model.kind, mode: model.mode, numTensors, ms }));
}

main().catch((e) => { console.error(`node-run: ${e && e.stack ? e.stack : e}`); process.exit(1); });
