// Run web/edgephoto.js in Node (TF.js + wasm backend from edgephoto/export/node/node_modules).
//
//   node web/node-run.mjs <manifest.json> <in.rgba> WIDTH HEIGHT <out prefix> [--repeat N] [--threads N]
//   node web/node-run.mjs --generate <manifest.json | pipeline.json> N SEED <out prefix> [--start K] [--threads N]
//
// in.rgba: raw RGBA8 (no image codecs in plain Node). Writes <prefix>.rgba (the result ImageData),
// <prefix>.f32 (the mask HxW or the image HxWx3, float32) and prints one JSON line:
// {"backend", "kind", "numTensors": [before, after run 1, after run 2, ...], "ms": [...]}.
// --generate: a generator's bundle (model.generate) or a pipeline file (loadPipeline +
// pipeline.generate); writes the N images' RGBA8 one after the other to <prefix>.rgba and prints
// {"backend", "side", "n", "describe", "numTensors": [after load, after generate, after dispose], "ms"}.
// A refused request prints {"error": "<the one-line message>"} and exits with 3.
// Used by tests/test_web.py and tests/test_web_generate.py for parity with the Python runtime.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";
import { loadModel, loadPipeline, setTF, backendName } from "./edgephoto.js";
import { takeOption } from "./cli-args.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "edgephoto", "export", "node", "package.json"));
const tf = require("@tensorflow/tfjs");
const wasm = require("@tensorflow/tfjs-backend-wasm");

const args = process.argv.slice(2);
const opt = (name, dflt) => takeOption(args, name, dflt);
const repeat = Number(opt("--repeat", "1"));
const threads = Number(opt("--threads", "1"));
const start = Number(opt("--start", "0"));
const generate = args[0] === "--generate";
if (generate) args.shift();
const [manifest, inp, w, h, prefix] = args;
if (generate ? !h : !prefix) {
  console.error("usage: node web/node-run.mjs manifest.json in.rgba WIDTH HEIGHT out_prefix [--repeat N]\n" +
                "       node web/node-run.mjs --generate manifest.json|pipeline.json N SEED out_prefix [--start K]");
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

async function runGenerate() {
  const [file, n, seed, out] = args;
  const url = pathToFileURL(path.resolve(file)).href;
  const doc = JSON.parse(readFileSync(file, "utf8"));
  let runner, describe, side;
  try {
    if (doc.kind === "pipeline") {
      runner = await loadPipeline(url, { fetch: fileFetch, backend: "wasm" });
      describe = runner.describe();
      side = runner.side;
    } else {
      runner = await loadModel(url, { fetch: fileFetch, backend: "wasm" });
      describe = `${runner.task}/${doc.variant} ${doc.format}_${doc.precision}`;
      side = runner.outputSize ? runner.outputSize[0] : null;
    }
  } catch (e) {
    console.log(JSON.stringify({ error: e.message, stage: "load" }));
    process.exit(3);
  }
  const numTensors = [tf.memory().numTensors];   // after loading: the weights
  const t0 = performance.now();
  let images;
  try {
    images = await runner.generate(Number(n), Number(seed), { start });
  } catch (e) {
    runner.dispose();
    console.log(JSON.stringify({ error: e.message, stage: "generate" }));
    process.exit(3);
  }
  const ms = performance.now() - t0;
  numTensors.push(tf.memory().numTensors);
  writeFileSync(`${out}.rgba`, Buffer.concat(images.map((im) => Buffer.from(im.data.buffer, im.data.byteOffset, im.data.byteLength))));
  runner.dispose();
  numTensors.push(tf.memory().numTensors);
  console.log(JSON.stringify({ backend: backendName(), side, n: images.length, describe, numTensors, ms,
                               sizes: images.map((im) => [im.width, im.height]) }));
}

async function main() {
  wasm.setThreadsCount(threads);
  tf.env().set("DEBUG", false);
  setTF(tf);
  if (generate) return runGenerate();
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
