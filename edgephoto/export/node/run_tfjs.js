#!/usr/bin/env node
// Run a TF.js model (an exported graph model, or an imported Keras layers model) in Node with the
// wasm backend (no native binaries).
//
//   node run_tfjs.js <model_dir> <input.npy> <output.npy> [--threads N]
//
// input.npy: float32 N x H x W x C (the model's NHWC input, already normalized); each image runs
// as a batch of one. output.npy: float32 N x H x W x C of the model's (first) output.
// Prints one JSON line: {"backend": "wasm", "images": N, "ms_per_image": ..., "output_shape": [...]}.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (descr !== '<f4') throw new Error(`${file}: dtype ${descr}, need float32 (<f4)`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: fortran order unsupported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim())
    .filter(s => s.length).map(Number);
  const off = hstart + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + buf.length));
  return { shape, data };
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

// IOHandler reading model.json + weight shards from disk (tf.io.fileSystem needs tfjs-node).
function diskHandler(dir) {
  return {
    load: async () => {
      const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const specs = [];
      const bufs = [];
      for (const group of mj.weightsManifest || []) {
        specs.push(...group.weights);
        for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(bufs);
      return {
        modelTopology: mj.modelTopology, format: mj.format, generatedBy: mj.generatedBy,
        convertedBy: mj.convertedBy, signature: mj.signature,
        userDefinedMetadata: mj.userDefinedMetadata, modelInitializer: mj.modelInitializer,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

async function main() {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--threads');
  if (ti >= 0) {
    wasm.setThreadsCount(Number(args[ti + 1]));
    args.splice(ti, 2);
  }
  if (args.length !== 3) {
    console.error('usage: node run_tfjs.js <model_dir> <input.npy> <output.npy> [--threads N]');
    process.exit(2);
  }
  const [modelDir, inFile, outFile] = args;
  tf.env().set('DEBUG', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialize');
  await tf.ready();
  const format = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')).format;
  // a layers model (Keras, e.g. UpscalerJS's esrgan-slim) predicts; a graph model executes
  const layers = format === 'layers-model';
  const model = layers ? await tf.loadLayersModel(diskHandler(modelDir))
    : await tf.loadGraphModel(diskHandler(modelDir));
  const x = readNpy(inFile);
  const [n, ...rest] = x.shape;
  const per = rest.reduce((a, b) => a * b, 1);
  let out = null;
  let outShape = null;
  let ms = 0;
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const y = tf.tidy(() => {
      const inp = tf.tensor(x.data.subarray(i * per, (i + 1) * per), [1, ...rest], 'float32');
      let r = layers ? model.predict(inp) : model.execute(inp);
      if (Array.isArray(r)) r = r[0];
      return r.toFloat();
    });
    const d = await y.data();
    ms += Date.now() - t0;
    if (out === null) {
      outShape = y.shape.slice(1);
      out = new Float32Array(n * d.length);
    }
    out.set(d, i * d.length);
    y.dispose();
  }
  writeNpy(outFile, [n, ...outShape], out);
  console.log(JSON.stringify({ backend: tf.getBackend(), images: n, ms_per_image: ms / Math.max(n, 1),
    output_shape: [n, ...outShape] }));
}

main().catch(e => { console.error(`run_tfjs: ${e && e.message ? e.message : e}`); process.exit(1); });
