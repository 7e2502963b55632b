/**
 * edgephoto.js: run an exported edgephoto TF.js bundle in a web page (or in Node), no server.
 *
 * The same pipeline as the Python runtime (edgephoto/runtime/model.py), driven by the bundle's
 * manifest.json: `normalize` / `preprocess` (Pillow's bilinear resample, re-implemented here so
 * the numbers match; input.scale "255" or "max"; input.channels "RGB", "BGR" or "L": one channel,
 * the CIE L* of the photo; output.index picks the model output), inference modes `resize` and
 * `tile` (overlapping tiles, linear-ramp cross-fade, reflect padding), output kinds `alpha` (mask
 * upsampled bilinearly + RGBA cut-out), `image` (an RGB photo in [0, 1]) and `ab` (CIE a*, b* at
 * the model's resolution, upsampled bilinearly and joined to the photo's own full-resolution L*:
 * the colorize task). `rgbToLab` / `rgbToL` / `labToRgb` are runtime/lab.py's sRGB <-> CIE Lab (D65).
 *
 *   import { loadModel, backendName } from "./edgephoto.js";
 *   const model = await loadModel("dist/matte/starter/tfjs_fp16/manifest.json",
 *                                 { onProgress: (f) => bar.value = f });
 *   const out = await model.run(canvas);          // ImageData (RGBA cut-out / retouched photo)
 *   ctx.putImageData(out, 0, 0); model.dispose();
 *
 * Generators (input kind `latent`, inference mode `sample`: the art generator) take a seed instead
 * of a photo: `latents(seed, n, dim, start)` is runtime/latent.py's seeded noise bit for bit, and
 * `model.generate(n, seed)` gives n ImageData. `loadPipeline(url)` reads a pipeline file
 * (runtime/pipeline.py's format: steps by relative path + sha256, checked with the same rules and
 * messages as check_chain) and `pipeline.generate(n, seed)` runs the generator, then each upscale
 * step on each image (256 / 1024 px):
 *
 *   const pipe = await loadPipeline("../dist/pipelines/generate-256.tfjs.json");
 *   const images = await pipe.generate(16, 7);    // 16 ImageData of 256x256, at most MAX_IMAGES
 *
 * TF.js: the page may load it itself (`globalThis.tf`), pass it with `setTF(tf)` / `{tf}`, or let
 * `ensureTF()` load the project's vendored UMD builds from ./vendor/ (written by `make web`):
 * no CDN. Backend: WebGL where it initializes (and its texture limit fits the model's input;
 * WebGL textures are at most WEBGL_MAX_TEXTURE_SIZE, typically 4096, per side) and runs on a
 * GPU (a software WebGL such as SwiftShader is skipped: wasm beats it), wasm otherwise.
 * Every tensor is disposed: tf.memory().numTensors is the same before and after `run`.
 */

import MANIFEST_SCHEMA from "./manifest-schema.js";

let TF = null;
const VENDOR = "./vendor/";

export { MANIFEST_SCHEMA };

// ------------------------------------------------------------------------ the manifest's schema
function isType(v, t) {
  if (t === "integer") return Number.isInteger(v);
  if (t === "number") return typeof v === "number" && Number.isFinite(v);
  if (t === "object") return v !== null && typeof v === "object" && !Array.isArray(v);
  if (t === "array") return Array.isArray(v);
  if (t === "null") return v === null;
  return typeof v === t;   // string, boolean
}

const show = (v) => (JSON.stringify(v) ?? String(v)).slice(0, 60);

/**
 * Check `doc` against `schema` (default: the manifest schema generated from
 * edgephoto/runtime/spec.py). The same rules and messages as the Python runtime's validate():
 * type, enum, minimum, required, additionalProperties false, properties, minItems/maxItems, items.
 * Throws Error(one line) at the first problem.
 */
export function validateManifest(doc, schema = MANIFEST_SCHEMA, where = "manifest") {
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(doc, t))) throw new Error(`${where} must be ${types.join(" or ")}, got ${show(doc)}`);
  }
  if (schema.enum && !schema.enum.includes(doc)) throw new Error(`${where} is ${show(doc)}; expected one of: ${schema.enum.join(", ")}`);
  if (schema.minimum !== undefined && typeof doc === "number" && doc < schema.minimum) throw new Error(`${where} is ${doc}; the minimum is ${schema.minimum}`);
  if (isType(doc, "object")) {
    const props = schema.properties || {};
    for (const k of schema.required || []) if (!(k in doc)) throw new Error(`${where} lacks field ${k}`);
    if (schema.additionalProperties === false) {
      const extra = Object.keys(doc).filter((k) => !(k in props)).sort();
      if (extra.length) throw new Error(`${where} has unknown field(s) ${extra.join(", ")} (known: ${Object.keys(props).join(", ")})`);
    }
    for (const [k, sub] of Object.entries(props)) if (k in doc) validateManifest(doc[k], sub, `${where}.${k}`);
  }
  if (Array.isArray(doc)) {
    if (schema.minItems !== undefined && doc.length < schema.minItems) throw new Error(`${where} needs at least ${schema.minItems} values, got ${doc.length}`);
    if (schema.maxItems !== undefined && doc.length > schema.maxItems) throw new Error(`${where} takes at most ${schema.maxItems} values, got ${doc.length}`);
    if (schema.items) doc.forEach((v, i) => validateManifest(v, schema.items, `${where}[${i}]`));
  }
}

export function setTF(tf) { TF = tf; return tf; }

export function getTF() {
  if (!TF && typeof globalThis !== "undefined" && globalThis.tf) TF = globalThis.tf;
  if (!TF) throw new Error("TF.js is not loaded: call ensureTF() or setTF(tf) first");
  return TF;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src} (did you run 'make web'?)`));
    document.head.appendChild(s);
  });
}

let backendPromise = null;

/**
 * Load TF.js (browser: the vendored UMD files next to this module) and pick a backend.
 * opts.backend: "webgl" | "wasm" | "cpu" to force one; opts.vendor: where tf.min.js,
 * tf-backend-wasm.min.js and the .wasm files are; opts.minTexture: the largest side the
 * models need on WebGL (default 1024).
 */
export function ensureTF(opts = {}) {
  if (!backendPromise) backendPromise = initTF(opts).catch((e) => { backendPromise = null; throw e; });
  return backendPromise;
}

async function initTF(opts) {
  const vendor = opts.vendor || new URL(VENDOR, import.meta.url).href;
  if (!TF && !globalThis.tf && typeof document !== "undefined") {
    await loadScript(vendor + "tf.min.js");
  }
  const tf = getTF();
  if (!tf.findBackendFactory("wasm") && typeof document !== "undefined") {
    await loadScript(vendor + "tf-backend-wasm.min.js");
  }
  if (tf.wasm && tf.wasm.setWasmPaths && typeof document !== "undefined") tf.wasm.setWasmPaths(vendor);
  const want = opts.backend ? [opts.backend] : ["webgl", "wasm", "cpu"];
  const why = [];
  for (const name of want) {
    if (!tf.findBackendFactory(name)) { why.push(`${name}: not available`); continue; }
    let ok = false;
    try { ok = await tf.setBackend(name); } catch (e) { why.push(`${name}: ${e.message}`); continue; }
    if (!ok) { why.push(`${name}: did not initialize`); continue; }
    await tf.ready();
    if (name === "webgl") {
      const max = tf.env().getNumber("WEBGL_MAX_TEXTURE_SIZE");
      if (max < (opts.minTexture || 1024)) { why.push(`webgl: texture limit ${max}`); continue; }
      // WebGL emulated on the CPU (no GPU: SwiftShader, llvmpipe) is 10-20x slower than wasm
      // (measured by `edgephoto bench --browser`), so only a forced "webgl" keeps it
      const renderer = webglRenderer();
      if (!opts.backend && /swiftshader|llvmpipe|software/i.test(renderer) && tf.findBackendFactory("wasm")) {
        why.push(`webgl: software renderer (${renderer}), wasm is faster`);
        continue;
      }
    }
    return { backend: name, skipped: why };
  }
  throw new Error(`no TF.js backend works here (${why.join("; ")})`);
}

/** The WebGL renderer string ("" when unknown), e.g. "ANGLE (Google, Vulkan (SwiftShader ...))". */
export function webglRenderer() {
  try {
    if (typeof document === "undefined") return "";
    const gl = document.createElement("canvas").getContext("webgl2") ||
      document.createElement("canvas").getContext("webgl");
    if (!gl) return "";
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
  } catch (e) { return ""; }
}

/** The active TF.js backend ("webgl", "wasm", ...), or "" before ensureTF(). */
export function backendName() {
  try { return getTF().getBackend() || ""; } catch (e) { return ""; }
}

// ------------------------------------------------------------------------ Pillow's resampling
// Pillow's ImagingResample with the bilinear (triangle) filter: support widens with the scale
// when shrinking (antialiasing), horizontal pass first, then vertical. 8-bit images use Pillow's
// fixed-point coefficients (22 bits) and rounding; float ("F") images use doubles.
const PRECISION_BITS = 32 - 8 - 2;

function coeffs(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      let t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1.0 ? 1.0 - t : 0.0;
      kk[xx * ksize + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0) kk[xx * ksize + x] /= ww;
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { kk, bounds, ksize };
}

function fixedCoeffs(c) {
  const k = new Int32Array(c.kk.length);
  for (let i = 0; i < k.length; i++) {
    const v = c.kk[i] * (1 << PRECISION_BITS);
    k[i] = Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
  }
  return k;
}

const clip8 = (v) => { const r = v >> PRECISION_BITS; return r < 0 ? 0 : r > 255 ? 255 : r; };

/** uint8 interleaved (HxWxC) resize like Pillow's Image.resize(..., BILINEAR). */
export function resizeU8(src, w, h, C, W2, H2) {
  let cur = src, cw = w;
  if (W2 !== w) {
    const c = coeffs(w, W2), k = fixedCoeffs(c);
    const out = new Uint8ClampedArray(W2 * h * C);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < W2; xx++) {
        const xmin = c.bounds[2 * xx], xmax = c.bounds[2 * xx + 1], kb = xx * c.ksize;
        for (let ch = 0; ch < C; ch++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) ss += cur[(y * w + x + xmin) * C + ch] * k[kb + x];
          out[(y * W2 + xx) * C + ch] = clip8(ss);
        }
      }
    }
    cur = out; cw = W2;
  }
  if (H2 !== h) {
    const c = coeffs(h, H2), k = fixedCoeffs(c);
    const out = new Uint8ClampedArray(cw * H2 * C);
    for (let yy = 0; yy < H2; yy++) {
      const ymin = c.bounds[2 * yy], ymax = c.bounds[2 * yy + 1], kb = yy * c.ksize;
      for (let x = 0; x < cw; x++) {
        for (let ch = 0; ch < C; ch++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let y = 0; y < ymax; y++) ss += cur[((y + ymin) * cw + x) * C + ch] * k[kb + y];
          out[(yy * cw + x) * C + ch] = clip8(ss);
        }
      }
    }
    cur = out;
  }
  return cur === src ? Uint8ClampedArray.from(src) : cur;
}

/** float32 single-channel (HxW) resize like Pillow's mode "F" Image.resize(..., BILINEAR). */
export function resizeF32(src, w, h, W2, H2) {
  let cur = src, cw = w;
  if (W2 !== w) {
    const c = coeffs(w, W2);
    const out = new Float32Array(W2 * h);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < W2; xx++) {
        const xmin = c.bounds[2 * xx], xmax = c.bounds[2 * xx + 1], kb = xx * c.ksize;
        let ss = 0.0;
        for (let x = 0; x < xmax; x++) ss += cur[y * w + x + xmin] * c.kk[kb + x];
        out[y * W2 + xx] = ss;
      }
    }
    cur = out; cw = W2;
  }
  if (H2 !== h) {
    const c = coeffs(h, H2);
    const out = new Float32Array(cw * H2);
    for (let yy = 0; yy < H2; yy++) {
      const ymin = c.bounds[2 * yy], ymax = c.bounds[2 * yy + 1], kb = yy * c.ksize;
      for (let x = 0; x < cw; x++) {
        let ss = 0.0;
        for (let y = 0; y < ymax; y++) ss += cur[(y + ymin) * cw + x] * c.kk[kb + y];
        out[yy * cw + x] = ss;
      }
    }
    cur = out;
  }
  return cur === src ? Float32Array.from(src) : cur;
}

// ----------------------------------------------------------------------------- sRGB <-> CIE Lab
// The formulas and constants of edgephoto/runtime/lab.py (scikit-image's rgb2lab / lab2rgb): sRGB
// IEC 61966-2-1 (the 0.04045 / 0.0031308 knees), linear sRGB -> XYZ with scikit-image's matrix,
// the D65 white (0.95047, 1, 1.08883), the cube root's linear toe 7.787 t + 16/116 below 0.008856
// and the inverse switching back at 7.787 * 0.008856 + 16/116. Computed in doubles, stored as
// Float32Array: within 4e-6 Lab units of lab.py in float64 (its float32 default is itself 8e-5 off
// on a*) and 3e-6 in sRGB of lab_to_rgb; tests/test_lab.py compares the two.
const LAB_WHITE = [0.95047, 1.0, 1.08883];
const RGB_TO_XYZ = [[0.412453, 0.357580, 0.180423],
                    [0.212671, 0.715160, 0.072169],
                    [0.019334, 0.119193, 0.950227]];
const XYZ_TO_RGB = invert3(RGB_TO_XYZ);
const LAB_EPS = 0.008856, LAB_K = 7.787;          // the toe: t <= LAB_EPS is mapped to K t + 16/116
const LAB_FEPS = LAB_K * LAB_EPS + 16.0 / 116.0;  // where the inverse switches back

function invert3(m) {
  const [[a, b, c], [d, e, g], [h, i, k]] = m;
  const A = e * k - g * i, B = -(d * k - g * h), C = d * i - e * h;
  const det = a * A + b * B + c * C;
  return [[A / det, -(b * k - c * i) / det, (b * g - c * e) / det],
          [B / det, (a * k - c * h) / det, -(a * g - c * d) / det],
          [C / det, -(a * i - b * h) / det, (a * e - b * d) / det]];
}

const srgbToLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

function linearToSrgb(c) {
  c = Math.min(1, Math.max(0, c));
  return c <= 0.0031308 ? c * 12.92 : 1.055 * c ** (1.0 / 2.4) - 0.055;
}

const labF = (t) => (t > LAB_EPS ? Math.cbrt(t) : LAB_K * t + 16.0 / 116.0);
const labFinv = (t) => (t > LAB_FEPS ? t * t * t : (t - 16.0 / 116.0) / LAB_K);

// 8-bit sRGB -> linear, once per value (the same numbers as srgbToLinear(v / 255))
const LINEAR_U8 = Float64Array.from({ length: 256 }, (_, v) => srgbToLinear(v / 255.0));

/** sRGB values -> linear: 8-bit arrays (Uint8Array / Uint8ClampedArray, 0..255) through the table,
 *  anything else read as floats in [0, 1] (as lab.py's uint8 / float inputs). */
function linearReader(rgb) {
  return (rgb instanceof Uint8Array || rgb instanceof Uint8ClampedArray)
    ? (i) => LINEAR_U8[rgb[i]] : (i) => srgbToLinear(rgb[i]);
}

/** Interleaved sRGB (uint8 0..255 or float 0..1, ...x3) -> Float32Array ...x3 CIE Lab, L in [0, 100]
 *  (runtime/lab.py rgb_to_lab). */
export function rgbToLab(rgb) {
  const n = Math.floor(rgb.length / 3), lin = linearReader(rgb), M = RGB_TO_XYZ;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const r = lin(3 * i), g = lin(3 * i + 1), b = lin(3 * i + 2);
    const fx = labF((M[0][0] * r + M[0][1] * g + M[0][2] * b) / LAB_WHITE[0]);
    const fy = labF((M[1][0] * r + M[1][1] * g + M[1][2] * b) / LAB_WHITE[1]);
    const fz = labF((M[2][0] * r + M[2][1] * g + M[2][2] * b) / LAB_WHITE[2]);
    out[3 * i] = 116.0 * fy - 16.0;
    out[3 * i + 1] = 500.0 * (fx - fy);
    out[3 * i + 2] = 200.0 * (fy - fz);
  }
  return out;
}

/** Interleaved sRGB (uint8 or float, ...x3) -> Float32Array ... lightness L* in [0, 100]: it depends on
 *  Y alone (runtime/lab.py rgb_to_l). */
export function rgbToL(rgb) {
  const n = Math.floor(rgb.length / 3), lin = linearReader(rgb), M = RGB_TO_XYZ[1];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = 116.0 * labF(M[0] * lin(3 * i) + M[1] * lin(3 * i + 1) + M[2] * lin(3 * i + 2)) - 16.0;
  }
  return out;
}

/** Interleaved CIE Lab (...x3) -> Float32Array ...x3 sRGB in [0, 1], out-of-gamut colours clipped
 *  (runtime/lab.py lab_to_rgb). */
export function labToRgb(lab) {
  const n = Math.floor(lab.length / 3), M = XYZ_TO_RGB;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const fy = (lab[3 * i] + 16.0) / 116.0;
    const X = labFinv(fy + lab[3 * i + 1] / 500.0) * LAB_WHITE[0];
    const Y = labFinv(fy) * LAB_WHITE[1];
    const Z = labFinv(fy - lab[3 * i + 2] / 200.0) * LAB_WHITE[2];
    for (let c = 0; c < 3; c++) out[3 * i + c] = linearToSrgb(M[c][0] * X + M[c][1] * Y + M[c][2] * Z);
  }
  return out;
}

// --------------------------------------------------------------------------- images in and out
const f = Math.fround;

/** ImageData / canvas / {data, width, height} -> {rgb (HxWx3 uint8), alpha (HxW uint8 | null), width, height}. */
export function toPhoto(image) {
  let img = image;
  if (typeof HTMLCanvasElement !== "undefined" && image instanceof HTMLCanvasElement ||
      typeof OffscreenCanvas !== "undefined" && image instanceof OffscreenCanvas) {
    img = image.getContext("2d").getImageData(0, 0, image.width, image.height);
  } else if (typeof HTMLImageElement !== "undefined" && image instanceof HTMLImageElement) {
    const c = document.createElement("canvas");
    c.width = image.naturalWidth; c.height = image.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(image, 0, 0);
    img = ctx.getImageData(0, 0, c.width, c.height);
  }
  const { data, width, height } = img;
  const n = width * height;
  const rgb = new Uint8ClampedArray(3 * n);
  const alpha = new Uint8ClampedArray(n);
  let opaque = true;
  for (let i = 0; i < n; i++) {
    rgb[3 * i] = data[4 * i]; rgb[3 * i + 1] = data[4 * i + 1]; rgb[3 * i + 2] = data[4 * i + 2];
    alpha[i] = data[4 * i + 3];
    if (alpha[i] !== 255) opaque = false;
  }
  return { rgb, alpha: opaque ? null : alpha, width, height };
}

export function makeImageData(data, width, height) {
  if (typeof ImageData !== "undefined") return new ImageData(data, width, height);
  return { data, width, height, colorSpace: "srgb" };
}

/** manifest input.kind: "image" (a photo, the default) or "latent" (a generator's noise vector). */
export function inputKind(manifest) {
  return String((manifest.input || {}).kind || "image");
}

const isLatent = (manifest) => inputKind(manifest) === "latent";

/** A latent model's output.size [height, width] (runtime/pipeline.py step_output_side needs it). */
function outputHW(manifest) {
  const s = manifest.output.size;
  if (!Array.isArray(s) || s.length !== 2) throw new Error(`${manifest.task}: a latent model's manifest needs output.size`);
  return [Number(s[0]), Number(s[1])];
}

function inputHW(manifest) {
  const s = manifest.input.size;
  if (typeof s === "number") return [s, s];
  if (!Array.isArray(s) || s.length !== 2) throw new Error(`manifest input.size must be [height, width], got ${JSON.stringify(s)}`);
  return [Number(s[0]), Number(s[1])];
}

/** The photo's channels in one model input (manifest input.channels): 3 for RGB / BGR, 1 for L (CIE L*). */
export function inputChannels(manifest) {
  const c = String((manifest.input || {}).channels || "RGB").toUpperCase();
  if (c === "L") return 1;
  if (c === "RGB" || c === "BGR") return 3;
  throw new Error(`manifest input.channels must be one of RGB, BGR, L, got '${c}'`);
}

/** Extra input channels after RGB (manifest input.context): 3 for a thumbnail grid, 2 for position. */
export function contextChannels(manifest) {
  const c = (manifest.input || {}).context;
  if (!c) return 0;
  if (typeof c !== "object" || !(c.grid || c.position)) throw new Error(`manifest input.context must be {grid, position}, got ${JSON.stringify(c)}`);
  return (c.grid ? 3 : 0) + (c.position ? 2 : 0);
}

/** HxWx3 float -> grid x grid x 3 block means; block i spans rows floor(i*H/g) .. floor((i+1)*H/g)
 *  (as runtime/model.py thumbnail(): integer bounds, so both runtimes compute the same numbers). */
export function thumbnail(x, H, W, g) {
  const out = new Float32Array(g * g * 3);
  for (let i = 0; i < g; i++) {
    const y0 = Math.floor(i * H / g), y1 = Math.max(Math.floor((i + 1) * H / g), y0 + 1);
    for (let j = 0; j < g; j++) {
      const x0 = Math.floor(j * W / g), x1 = Math.max(Math.floor((j + 1) * W / g), x0 + 1);
      const s = [0, 0, 0];
      for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) for (let c = 0; c < 3; c++) s[c] += x[3 * (y * W + xx) + c];
      for (let c = 0; c < 3; c++) out[3 * (i * g + j) + c] = f(s[c] / ((y1 - y0) * (x1 - x0)));
    }
  }
  return out;
}

/** Fill the context channels of pixel (i, j) of an h x w window at (top, left) of an H x W photo:
 *  the thumbnail cell it falls in, then its (y, x) position in [-1, 1] (runtime/model.py context_planes). */
function fillContext(dst, d, ctx, thumb, i, j, h, w, top, left, H, W) {
  let k = d;
  if (ctx.grid) {
    const g = ctx.grid, t = 3 * (Math.floor(i * g / h) * g + Math.floor(j * g / w));
    dst[k++] = thumb[t]; dst[k++] = thumb[t + 1]; dst[k++] = thumb[t + 2];
  }
  if (ctx.position) {
    dst[k++] = f(f(f(2 * f(top + i + 0.5)) / H) - 1);
    dst[k++] = f(f(f(2 * f(left + j + 0.5)) / W) - 1);
  }
}

/** manifest input.scale: "255" (default, x / 255) or "max" (x / the image's largest value). */
export function inputScale(manifest) {
  const s = String(manifest.input.scale === undefined ? "255" : manifest.input.scale).trim().toLowerCase();
  if (s !== "255" && s !== "max") throw new Error(`manifest input.scale must be one of 255, max, got '${s}'`);
  return s;
}

/** manifest output.index: which model output the output kind reads (default 0). */
export function outputIndex(manifest) {
  const k = manifest.output.index === undefined ? 0 : manifest.output.index;
  if (!Number.isInteger(k) || k < 0) throw new Error(`manifest output.index must be a non-negative integer, got ${JSON.stringify(k)}`);
  return k;
}

/**
 * uint8 HxWx3 -> float32 HxWx3 model values (x*(hi-lo)/d + lo - mean) / std, BGR swap; d = 255, or
 * with input.scale "max" the largest value of the whole image (rembg's x / max(x)). input.channels
 * "L": float32 HxWx1, the photo's CIE L* (`rgbToL`) / 100 mapped to [lo, hi], then (x - mean) / std.
 */
export function normalize(rgb, n, manifest) {
  const inp = manifest.input;
  const [lo, hi] = inp.range || [0, 1];
  if (inputChannels(manifest) === 1) {   // runtime/model.py normalize: L * f32((hi-lo)/100) + f32(lo)
    const L = rgbToL(rgb.length === 3 * n ? rgb : rgb.subarray(0, 3 * n));
    const a = f((hi - lo) / 100.0), b = f(lo), mean = f((inp.mean || [0])[0]), std = f((inp.std || [1])[0]);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = f(f(f(f(L[i] * a) + b) - mean) / std);
    return x;
  }
  let div = 255.0;
  if (inputScale(manifest) === "max") {
    let mx = 0;
    for (let i = 0; i < 3 * n; i++) if (rgb[i] > mx) mx = rgb[i];
    div = Math.max(mx, 1e-6);
  }
  const a = f((hi - lo) / div), b = f(lo);
  const mean = (inp.mean || [0, 0, 0]).map(f), std = (inp.std || [1, 1, 1]).map(f);
  const bgr = String(inp.channels || "RGB").toUpperCase() === "BGR";
  const x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = f(f(f(rgb[3 * i + c] * a) + b) - mean[c]);
      x[3 * i + (bgr ? 2 - c : c)] = f(v / std[c]);
    }
  }
  return x;
}

export function tileStarts(n, tile, overlap) {
  if (n <= tile) return [0];
  const out = [];
  for (let s = 0; s < n - tile; s += tile - overlap) out.push(s);
  out.push(n - tile);
  return out;
}

export function tileWeights(starts, tile) {
  return starts.map((s, i) => {
    const w = new Float32Array(tile).fill(1);
    if (i > 0) {
      const n = starts[i - 1] + tile - s;
      for (let k = 0; k < n; k++) w[k] = Math.min(w[k], f(f(k + 0.5) / n));
    }
    if (i + 1 < starts.length) {
      const n = s + tile - starts[i + 1];
      for (let k = 0; k < n; k++) w[tile - n + k] = Math.min(w[tile - n + k], f(f(n - k - 0.5) / n));
    }
    return w;
  });
}

function pair(v, what) {
  if (typeof v === "number" && Number.isInteger(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every(Number.isInteger)) return v;
  throw new Error(`manifest ${what} must be an integer or [height, width], got ${JSON.stringify(v)}`);
}

export function tileParams(manifest) {
  const inf = manifest.inference || {};
  const [th, tw] = inputHW(manifest);
  if (inf.tile != null) {
    const t = pair(inf.tile, "inference.tile");
    if (t[0] !== th || t[1] !== tw) throw new Error(`manifest inference.tile ${JSON.stringify(t)} differs from input.size [${th}, ${tw}]`);
  }
  const [oh, ow] = inf.overlap == null ? [Math.min(32, th >> 1), Math.min(32, tw >> 1)] : pair(inf.overlap, "inference.overlap");
  if (!(oh >= 0 && oh < th && ow >= 0 && ow < tw)) throw new Error(`manifest inference.overlap ${oh}x${ow} must be in [0, tile)`);
  return [[th, tw], [oh, ow]];
}

// numpy.pad "reflect" (mirror without repeating the edge) or "edge" when too short; centred.
function padIndex(size, n) {
  if (n >= size) return { idx: Int32Array.from({ length: n }, (_, i) => i), before: 0 };
  const before = (size - n) >> 1, after = size - n - before;
  const reflect = Math.max(before, after) <= n - 1;
  const idx = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    let j = i - before;
    if (reflect) { if (j < 0) j = -j; else if (j >= n) j = 2 * (n - 1) - j; }
    else j = Math.min(Math.max(j, 0), n - 1);
    idx[i] = j;
  }
  return { idx, before };
}

// ------------------------------------------------------------------------------- seeded latents
// edgephoto/runtime/latent.py, bit for bit: value j of sample i (counter c = i * D + j; pairs
// c = 2k, 2k + 1 share one Box-Muller draw) uses u_t = (lowbias32(seed * 0x9E3779B9 + 2k + t) + 0.5)
// / 2^32, t = 0, 1 (uint32 arithmetic: Math.imul and >>> 0); r = sqrt(-2 ln u0), z_2k = r cos(2 pi u1),
// z_2k+1 = r sin(2 pi u1) in doubles, rounded to float32. tests/test_web_generate.py compares them.
export const MAX_SEED = 2 ** 32 - 1;
const GOLDEN = 0x9E3779B9;
const TWO_32 = 2.0 ** 32;

/** Chris Wellons' lowbias32 on a uint32 (latent.py lowbias32). */
export function lowbias32(x) {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x21F0AAAD);
  x ^= x >>> 15;
  x = Math.imul(x, 0xD35A2D97);
  x ^= x >>> 15;
  return x >>> 0;
}

/** Samples start .. start + n - 1 of `seed`: a Float32Array of n * dim standard normals (row-major
 *  n x dim), the numbers of latent.py latents(seed, n, dim, start); sample i does not depend on n. */
export function latents(seed, n, dim, start = 0) {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new Error(`seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  }
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(dim) || dim < 1 || !Number.isInteger(start) || start < 0) {
    throw new Error(`latents needs integers n >= 0, dim >= 1, start >= 0 (got n ${n}, dim ${dim}, start ${start})`);
  }
  const base = Math.imul(seed, GOLDEN) >>> 0;
  const first = start * dim, count = n * dim;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const c = first + i, k = Math.floor(c / 2);
    const c0 = (2 * k) % TWO_32;                       // (pairs * 2) & 0xFFFFFFFF
    const u0 = (lowbias32((base + c0) >>> 0) + 0.5) / TWO_32;
    const u1 = (lowbias32((base + c0 + 1) >>> 0) + 0.5) / TWO_32;
    const r = Math.sqrt(-2.0 * Math.log(u0));
    out[i] = c % 2 === 0 ? r * Math.cos(2 * Math.PI * u1) : r * Math.sin(2 * Math.PI * u1);
  }
  return out;
}

// ------------------------------------------------------------------------------------ pipelines
// runtime/pipeline.py: a generator (64 px) chained with the 4x upscaler for 256 / 1024 px. The
// page's pipeline files are written by web/make_index.py beside dist/pipelines/generate-<side>.json
// as generate-<side>.tfjs.json: the same format (steps by path relative to the file + the step's
// manifest sha256), naming the TF.js bundles of the same variants.
export const MAX_IMAGES = 100;           // images one generation run may produce (pipeline.py)
export const GENERATE_SIDES = [64, 256, 1024];
export const MAX_OUTPUT_SIDE = 4096;     // runtime/model.py: WebGL's texture limit

const pyRepr = (v) => (typeof v === "string" ? `'${v}'` : v === undefined ? "None" : String(v));

/** pipeline.py check_count: a positive integer, at most MAX_IMAGES; else one line. */
export function checkCount(n) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`the number of images must be a positive integer, got ${pyRepr(n)}`);
  if (n > MAX_IMAGES) {
    throw new Error(`at most ${MAX_IMAGES} images per generation run, asked for ${n} (run it again with ` +
                    `another --seed for more)`);
  }
}

/** The side of what a step gives for an input of side `inSide` (null: a latent model). */
function stepOutputSide(manifest, inSide) {
  const out = manifest.output;
  if (inSide === null) {
    if (!Array.isArray(out.size)) throw new Error(`${manifest.task}: a latent model's manifest needs output.size`);
    return Number(out.size[0]);
  }
  return inSide * Number(out.scale || 1);
}

/**
 * pipeline.py check_chain on the steps' manifests (or Models): one-line Error if they do not fit
 * together (each step's output must be an image, the next step's input an image, so a latent
 * model only first; no output over MAX_OUTPUT_SIDE); else each step's output side (null while it
 * depends on the user's photo).
 */
export function checkChain(steps) {
  const mans = steps.map((s) => (s && s.manifest ? s.manifest : s));
  if (!mans.length) throw new Error("a pipeline needs at least one step");
  const sides = [];
  let side = null;
  mans.forEach((m, i) => {
    const kind = inputKind(m);
    if (i > 0) {
      const prev = mans[i - 1], po = prev.output || {};
      if (po.kind !== "image" || (po.channels === undefined ? 1 : po.channels) < 3) {
        throw new Error(`pipeline step ${i + 1} (${m.task}) takes an image, but step ${i} ` +
                        `(${prev.task}) gives a '${po.kind}' output`);
      }
      if (kind !== "image") {
        throw new Error(`pipeline step ${i + 1} (${m.task}) takes a '${kind}' input, but step ${i} ` +
                        `(${prev.task}) gives an image`);
      }
    }
    if (kind === "latent") {
      side = stepOutputSide(m, null);
    } else if (side !== null) {
      const nxt = stepOutputSide(m, side);
      if (nxt > MAX_OUTPUT_SIDE) {
        throw new Error(`pipeline step ${i + 1} (${m.task}) would make ${nxt} px images from step ` +
                        `${i}'s ${side} px, more than ${MAX_OUTPUT_SIDE}`);
      }
      side = nxt;
    }
    sides.push(side);
  });
  return sides;
}

/** The manifest URL of a pipeline step: its `path` (a model directory, or its manifest.json) from the pipeline file. */
function stepManifestUrl(path, pipelineUrl) {
  const p = String(path);
  return new URL(/\.json$/i.test(p) ? p : `${p.replace(/\/+$/, "")}/manifest.json`, pipelineUrl).href;
}

/**
 * Load and check a pipeline file (pipeline.py load_pipeline): every step's manifest sha256 against
 * the file's, then the chain's shapes (checkChain), then the steps' TF.js bundles.
 * opts: those of loadModel (fetch, backend, vendor, baseUrl), onProgress(fraction), and cache (a Map
 * manifest URL -> Promise<Model>) to share steps between pipelines (a cached step is not disposed
 * by pipeline.dispose()).
 */
export async function loadPipeline(url, opts = {}) {
  if (opts.tf) setTF(opts.tf);
  const fetchFn = opts.fetch || globalThis.fetch.bind(globalThis);
  const abs = new URL(url, opts.baseUrl || (globalThis.location ? globalThis.location.href : "file:///")).href;
  const progress = opts.onProgress || (() => {});
  let r;
  try { r = await fetchFn(abs); } catch (e) { throw new Error(`could not load pipeline file ${url} (${e.message})`); }
  if (r.status === 404) throw new Error(`pipeline file not found: ${url}`);
  if (!r.ok) throw new Error(`could not load pipeline file ${url} (HTTP ${r.status})`);
  let doc;
  try { doc = await r.json(); } catch (e) {
    throw new Error(`${url} is not a pipeline file (${String(e.message).split(/\s+/).join(" ").slice(0, 120)})`);
  }
  if (!isType(doc, "object") || doc.kind !== "pipeline" || !Array.isArray(doc.steps)) {
    throw new Error(`${url} is not a pipeline file (needs kind 'pipeline' and a list of steps)`);
  }
  const urls = [], manifests = [];
  for (const [i, st] of doc.steps.entries()) {
    if (!isType(st, "object") || !("path" in st) || !("sha256" in st)) throw new Error(`${url}: step ${i + 1} needs a path and a sha256`);
    const mu = stepManifestUrl(st.path, abs);
    const m = await (await fetchOk(fetchFn, mu, `step ${i + 1} manifest`)).json();
    const have = String(m.sha256 || "");
    if (have !== st.sha256) {
      throw new Error(`${url}: step ${i + 1} (${st.path}) has sha256 ${have.slice(0, 12)}..., the pipeline ` +
                      `names ${String(st.sha256).slice(0, 12)}... (re-exported? rewrite it with \`edgephoto chain\`, then \`make web\`)`);
    }
    checkManifest(m, mu);
    urls.push(mu); manifests.push(m);
  }
  checkChain(manifests);   // before any weights are fetched
  const models = [], own = [];
  for (const [i, mu] of urls.entries()) {
    const stepOpts = { ...opts, manifest: manifests[i], onProgress: (p) => progress((i + p) / urls.length) };
    let pm = opts.cache ? opts.cache.get(mu) : null;
    if (!pm) {
      pm = loadModel(mu, stepOpts);
      if (opts.cache) {
        opts.cache.set(mu, pm);
        pm.catch(() => opts.cache.delete(mu));
      }
    }
    const model = await pm;
    models.push(model);
    if (!opts.cache) own.push(model);
  }
  progress(1);
  const name = doc.name !== undefined ? String(doc.name) : abs.split("/").pop().replace(/\.json$/i, "");
  const pipe = new Pipeline(models, name, abs);
  pipe.owned = own;
  pipe.doc = doc;
  return pipe;
}

/** Loaded steps; generate() runs a generator chain (runtime/pipeline.py Pipeline). */
export class Pipeline {
  constructor(models, name = "", url = "") {
    this.models = models;
    this.name = name;
    this.url = url;
    this.sides = checkChain(models);
    this.owned = models;
  }

  get side() { return this.sides[this.sides.length - 1]; }

  describe() {
    return this.models.map((m, i) => {
      const mf = m.manifest, s = this.sides[i];
      return `${m.task}/${mf.variant} ${mf.format}_${mf.precision}` + (s ? ` @${s}` : "");
    }).join(" -> ");
  }

  /**
   * `n` images (ImageData, RGBA with alpha 255) of `seed`: the generator, then each following
   * step on each image (one image through every step before the next: memory stays at one image
   * per step). opts: start (the first sample's index), onProgress(fraction), onImage(i, imageData)
   * as each one is done, signal (an AbortSignal: stop between images).
   */
  async generate(n, seed = 0, opts = {}) {
    checkCount(n);
    const first = this.models[0];
    if (first.inputKind !== "latent") throw new Error(`the ${first.task} model takes a photo, not a seed: use predict(photo)`);
    latents(seed, 0, 1);   // the seed's one-line error before any work
    const start = opts.start || 0, progress = opts.onProgress || (() => {});
    const rest = this.models.slice(1), per = 1 + rest.length, images = [];
    for (let i = 0; i < n; i++) {
      if (opts.signal && opts.signal.aborted) throw new Error(`stopped after ${i} of ${n} image(s)`);
      let img = (await first.generate(1, seed, { start: start + i }))[0];
      progress((i * per + 1) / (n * per));
      for (const [k, m] of rest.entries()) {
        img = (await m.predict(toPhoto(img))).imageData;
        progress((i * per + 2 + k) / (n * per));
      }
      images.push(img);
      if (opts.onImage) opts.onImage(i, img);
    }
    return images;
  }

  dispose() {
    for (const m of this.owned || []) m.dispose();
    this.owned = [];
  }
}

/**
 * pipeline.py contact_sheet: the images (ImageData or {data, width, height}) on one grid (`cols`
 * default: ceil(sqrt(n))), white gaps of `pad` px; cells shrink (Pillow-style bilinear here, Python
 * uses Lanczos) so that the sheet stays within `maxSide`. Returns an RGBA ImageData.
 */
export function contactSheet(images, { cols = null, pad = 2, maxSide = 2048 } = {}) {
  const n = images.length;
  if (!n) throw new Error("a contact sheet needs at least one image");
  cols = cols || Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const { width: w, height: h } = images[0];
  const k = Math.min(1.0, (maxSide - pad * (cols + 1)) / (cols * w), (maxSide - pad * (rows + 1)) / (rows * h));
  const ch = Math.max(1, Math.trunc(h * k)), cw = Math.max(1, Math.trunc(w * k));
  const SW = cols * cw + (cols + 1) * pad, SH = rows * ch + (rows + 1) * pad;
  const out = new Uint8ClampedArray(SW * SH * 4).fill(255);
  images.forEach((im, i) => {
    let px = im.data;
    if (im.width !== cw || im.height !== ch) px = resizeU8(im.data, im.width, im.height, 4, cw, ch);
    const r = Math.floor(i / cols), c = i % cols, X = pad + c * (cw + pad), Y = pad + r * (ch + pad);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const s = 4 * (y * cw + x), d = 4 * ((Y + y) * SW + X + x);
        out[d] = px[s]; out[d + 1] = px[s + 1]; out[d + 2] = px[s + 2]; out[d + 3] = 255;
      }
    }
  });
  return makeImageData(out, SW, SH);
}

// ------------------------------------------------------------------------------------ the model
async function fetchOk(fetchFn, url, what) {
  const r = await fetchFn(url);
  if (!r.ok) throw new Error(`could not load ${what} ${url} (HTTP ${r.status})`);
  return r;
}

/**
 * Load a bundle: its manifest.json (URL) and the TF.js graph model the manifest names.
 * opts: onProgress(fraction 0..1), fetch (a fetch-like function; Node: one that reads files),
 * tf (the TF.js namespace), backend (forced backend), vendor (URL of the vendored TF.js files).
 */
export async function loadModel(manifestUrl, opts = {}) {
  if (opts.tf) setTF(opts.tf);
  const fetchFn = opts.fetch || globalThis.fetch.bind(globalThis);
  const progress = opts.onProgress || (() => {});
  progress(0);
  const manifest = opts.manifest || await (await fetchOk(fetchFn, manifestUrl, "manifest")).json();
  checkManifest(manifest, manifestUrl);
  const [ih, iw] = isLatent(manifest) ? outputHW(manifest) : inputHW(manifest);
  await ensureTF({ backend: opts.backend, vendor: opts.vendor, minTexture: Math.max(ih, iw) });
  const tf = getTF();
  const base = new URL(".", new URL(manifestUrl, opts.baseUrl || (globalThis.location ? globalThis.location.href : "file:///"))).href;
  const modelUrl = new URL(manifest.file, base).href;
  const mj = await (await fetchOk(fetchFn, modelUrl, "model")).json();
  const specs = [], paths = [];
  for (const g of mj.weightsManifest || []) { specs.push(...g.weights); paths.push(...g.paths); }
  const bufs = [];
  let loaded = 0;
  for (const p of paths) {
    bufs.push(new Uint8Array(await (await fetchOk(fetchFn, new URL(p, base).href, "weights")).arrayBuffer()));
    loaded += 1;
    progress(0.05 + 0.9 * loaded / Math.max(paths.length, 1));
  }
  const total = bufs.reduce((s, b) => s + b.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const b of bufs) { all.set(b, off); off += b.length; }
  const handler = {
    load: async () => ({
      modelTopology: mj.modelTopology, format: mj.format, generatedBy: mj.generatedBy,
      convertedBy: mj.convertedBy, signature: mj.signature, userDefinedMetadata: mj.userDefinedMetadata,
      modelInitializer: mj.modelInitializer, weightSpecs: specs, weightData: all.buffer,
    }),
  };
  // an imported Keras layers model (e.g. UpscalerJS's esrgan-slim) loads as one; ours are graphs
  const layers = mj.format === "layers-model";
  const graph = layers ? await tf.loadLayersModel(handler) : await tf.loadGraphModel(handler);
  progress(1);
  const model = new Model(manifest, graph, manifestUrl);
  model.layers = layers;   // a LayersModel predicts; a GraphModel executes
  model.signature = mj.signature || null;
  return model;
}

/** A manifest's contract beyond the schema (the checks Python's Model does at load); one line. */
function checkManifest(manifest, url) {
  try {
    validateManifest(manifest);
  } catch (e) {
    throw new Error(`${url}: ${e.message}`);
  }
  if (manifest.format !== "tfjs") throw new Error(`manifest ${url} is a ${manifest.format} model; this page runs TF.js bundles (tfjs_*)`);
  if (!OUTPUT_KINDS[manifest.output.kind]) throw new Error(`output kind '${manifest.output.kind}' has no plug-in in this page (known: ${Object.keys(OUTPUT_KINDS).join(", ")})`);
  const mode = (manifest.inference || {}).mode || "resize";
  const kind = inputKind(manifest);
  if (kind !== "image" && kind !== "latent") throw new Error(`manifest ${url}: input kind '${kind}' has no plug-in in this page (known: image, latent)`);
  // runtime/model.py mode_sample.check: a generator's mode
  if (mode === "sample" && kind !== "latent") throw new Error(`manifest ${url}: inference mode 'sample' needs input kind 'latent', the manifest says '${kind}'`);
  if (kind === "latent") {
    if (!manifest.input.latent_dim) throw new Error(`manifest ${url}: manifest input kind 'latent' needs input.latent_dim`);
    if (mode !== "sample") throw new Error(`manifest ${url}: input kind 'latent' needs inference mode 'sample', the manifest says '${mode}'`);
    outputHW(manifest);
    return;
  }
  // mode, scale and output index were checked by the schema; the tile must also fit the input size
  if (mode !== "resize") tileParams(manifest);
  if (inputChannels(manifest) !== 3 && contextChannels(manifest)) {
    throw new Error(`manifest ${url}: input.context needs RGB / BGR input channels, not '${manifest.input.channels}'`);
  }
}

// ------------------------------------------------------------------------------- output kinds
// One class per manifest output.kind, as OUTPUT_KINDS in runtime/model.py: postprocess(raw, photo,
// outputSpec) turns the inference mode's raw output (HxWxC float32 at model or photo resolution)
// into what the user gets ({imageData, <named outputs>}). A new kind is one class + one entry.

function clamp01(v) { return Math.min(1, Math.max(0, v)); }

/** Channel c of a raw output mapped from output.range to [0, 1], at the photo's size. */
function channelAt(raw, c, W, H, [lo, hi]) {
  const den = f(Math.max(hi - lo, 1e-12));
  let ch = new Float32Array(raw.h * raw.w);
  for (let i = 0; i < ch.length; i++) ch[i] = f(f(raw.data[i * raw.c + c] - f(lo)) / den);
  if (raw.h !== H || raw.w !== W) ch = resizeF32(ch, raw.w, raw.h, W, H);
  return ch;
}

/** A foreground probability map -> mask (Float32Array HxW in [0, 1]) + the RGBA cut-out. */
class AlphaOutput {
  static postprocess(raw, photo, spec) {
    const { width: W, height: H } = photo, n = W * H;
    const m = channelAt(raw, 0, W, H, spec.range || [0, 1]);
    const out = new Uint8ClampedArray(4 * n);
    for (let i = 0; i < n; i++) {
      m[i] = clamp01(m[i]);
      let a = f(m[i] * 255.0);
      if (photo.alpha) a = f(a * f(photo.alpha[i] / 255.0));
      out[4 * i] = photo.rgb[3 * i]; out[4 * i + 1] = photo.rgb[3 * i + 1]; out[4 * i + 2] = photo.rgb[3 * i + 2];
      out[4 * i + 3] = Math.trunc(f(a + 0.5));
    }
    return { imageData: makeImageData(out, W, H), mask: m };
  }
}

/** An RGB image (1 channel: grey) -> image (Float32Array HxWx3 in [0, 1]) + the photo (input alpha kept). */
class ImageOutput {
  static postprocess(raw, photo, spec) {
    const S = spec.scale || 1, W = photo.width * S, H = photo.height * S, n = W * H, C = raw.c;
    const alpha = photo.alpha && S > 1 ? resizeU8(photo.alpha, photo.width, photo.height, 1, W, H) : photo.alpha;
    if (!(C === 1 || C >= 3)) throw new Error(`output kind 'image' needs 1 or 3+ channels, the model gives ${C}`);
    const chans = [0, 1, 2].map((c) => channelAt(raw, C === 1 ? 0 : c, W, H, spec.range || [0, 1]));
    const img = new Float32Array(3 * n), out = new Uint8ClampedArray(4 * n);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        const v = clamp01(chans[c][i]);
        img[3 * i + c] = v;
        out[4 * i + c] = Math.trunc(f(f(v * 255.0) + 0.5));
      }
      out[4 * i + 3] = alpha ? alpha[i] : 255;
    }
    return { imageData: makeImageData(out, W, H), image: img };
  }
}

/**
 * Colour for the photo's own lightness (runtime/model.py AbOutput): the model's 2 channels are CIE
 * a*, b* (output.range [lo, hi] stands for output.units, e.g. [-1, 1] for [-128, 128]) at the model's
 * resolution, upsampled bilinearly (Pillow "F", as resize_map) to the photo's size and joined to
 * the photo's L* at full resolution -> ab (Float32Array HxWx2, Lab units) + image (Float32Array
 * HxWx3 RGB in [0, 1]) + the photo (the input's alpha kept).
 */
class AbOutput {
  static postprocess(raw, photo, spec) {
    const { width: W, height: H } = photo, n = W * H;
    if (raw.c !== 2) throw new Error(`output kind 'ab' needs 2 channels (a*, b*), the model gives shape [1, ${raw.h}, ${raw.w}, ${raw.c}]`);
    const [lo, hi] = spec.range || [0, 1];
    const [ulo, uhi] = spec.units || [lo, hi];
    const k = f((uhi - ulo) / Math.max(hi - lo, 1e-12)), flo = f(lo), fulo = f(ulo);
    const chans = [0, 1].map((c) => {
      let ch = new Float32Array(raw.h * raw.w);
      for (let i = 0; i < ch.length; i++) ch[i] = f(f(f(raw.data[i * 2 + c] - flo) * k) + fulo);
      if (raw.h !== H || raw.w !== W) ch = resizeF32(ch, raw.w, raw.h, W, H);
      return ch;
    });
    const L = rgbToL(photo.rgb);
    const ab = new Float32Array(2 * n), lab = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      ab[2 * i] = chans[0][i]; ab[2 * i + 1] = chans[1][i];
      lab[3 * i] = L[i]; lab[3 * i + 1] = chans[0][i]; lab[3 * i + 2] = chans[1][i];
    }
    const img = labToRgb(lab), out = new Uint8ClampedArray(4 * n);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) out[4 * i + c] = Math.trunc(f(f(img[3 * i + c] * 255.0) + 0.5));
      out[4 * i + 3] = photo.alpha ? photo.alpha[i] : 255;
    }
    return { imageData: makeImageData(out, W, H), ab, image: img };
  }
}

export const OUTPUT_KINDS = { alpha: AlphaOutput, image: ImageOutput, ab: AbOutput };

export class Model {
  constructor(manifest, graph, url) {
    this.manifest = manifest;
    this.graph = graph;
    this.url = url;
    this.task = manifest.task;
    this.kind = manifest.output.kind;
    this.mode = (manifest.inference || {}).mode || "resize";
    this.inputKind = inputKind(manifest);               // "image" (a photo) or "latent" (a generator)
    this.latentDim = this.inputKind === "latent" ? Number(manifest.input.latent_dim) : 0;
    this.outputSize = this.inputKind === "latent" ? outputHW(manifest) : null;
    this.inputSize = this.inputKind === "latent" ? null : inputHW(manifest);
    this.context = (manifest.input || {}).context || null;
    this.photoChannels = inputChannels(manifest);   // 3 (RGB / BGR) or 1 (L)
    this.channels = this.photoChannels + contextChannels(manifest);
    this.scale = manifest.output.scale || 1;     // output pixels per input pixel
    this.timings = {};
  }

  /** One engine call on a float32 1xHxWxC input; returns {data: Float32Array, shape}. */
  async engine(x, h, w) {
    return this.execute(x, [1, h, w, this.channels]);
  }

  /** The graph on one float32 input of `shape` (NHWC photo tiles, N x D latents); {data, shape} of output.index. */
  async execute(x, shape) {
    const tf = getTF();
    const y = tf.tidy(() => {
      const inp = tf.tensor(x, shape, "float32");
      let r = this.layers ? this.graph.predict(inp) : this.graph.execute(inp);
      if (Array.isArray(r)) {
        const k = outputIndex(this.manifest);
        if (k >= r.length) throw new Error(`manifest output.index is ${k} but the model has ${r.length} output(s)`);
        r = r[k];
      } else if (outputIndex(this.manifest) !== 0) {
        throw new Error(`manifest output.index is ${outputIndex(this.manifest)} but the model has 1 output`);
      }
      return r.toFloat();
    });
    try {
      return { data: await y.data(), shape: y.shape };
    } finally {
      y.dispose();
    }
  }

  /** The raw output(s) of the inference mode, as the Python MODES give them (HxWxC float32). */
  async infer(photo, onProgress = () => {}) {
    const { rgb, width: W, height: H } = photo;
    const [th, tw] = this.inputSize;
    const ctx = this.context, C_in = this.channels, B = this.photoChannels;
    if (this.mode === "resize") {
      const small = (W === tw && H === th) ? rgb : resizeU8(rgb, W, H, 3, tw, th);
      let xin = normalize(small, th * tw, this.manifest);
      if (ctx) {
        const thumb = ctx.grid ? thumbnail(normalize(rgb, W * H, this.manifest), H, W, ctx.grid) : null;
        const full = new Float32Array(th * tw * C_in);
        for (let i = 0; i < th; i++) for (let j = 0; j < tw; j++) {
          const d = C_in * (i * tw + j), s = 3 * (i * tw + j);
          full[d] = xin[s]; full[d + 1] = xin[s + 1]; full[d + 2] = xin[s + 2];
          fillContext(full, d + 3, ctx, thumb, i, j, th, tw, 0, 0, th, tw);
        }
        xin = full;
      }
      const { data, shape } = await this.engine(xin, th, tw);
      onProgress(1);
      return { data, h: shape[1], w: shape[2], c: shape[3] };
    }
    const [, [oh, ow]] = tileParams(this.manifest);
    const x = normalize(rgb, W * H, this.manifest);
    const thumb = ctx && ctx.grid ? thumbnail(x, H, W, ctx.grid) : null;
    const py = padIndex(th, H), px = padIndex(tw, W);
    const PH = py.idx.length, PW = px.idx.length;
    const ys = tileStarts(PH, th, oh), xs = tileStarts(PW, tw, ow);
    // blending on the output grid: tiles, starts and overlaps scaled by output.scale (4x upscalers)
    const S = this.scale, TH = th * S, TW = tw * S, OPW = PW * S;
    const wys = tileWeights(ys.map((v) => v * S), TH), wxs = tileWeights(xs.map((v) => v * S), TW);
    let acc = null, C = 0;
    const wsum = new Float32Array(PH * S * OPW);
    const tile = new Float32Array(th * tw * C_in);
    let done = 0;
    for (let a = 0; a < ys.length; a++) {
      for (let b = 0; b < xs.length; b++) {
        const y0 = ys[a], x0 = xs[b], wy = wys[a], wx = wxs[b];
        for (let i = 0; i < th; i++) {
          const sy = py.idx[y0 + i];
          for (let j = 0; j < tw; j++) {
            const s = B * (sy * W + px.idx[x0 + j]), d = C_in * (i * tw + j);
            for (let c = 0; c < B; c++) tile[d + c] = x[s + c];
            // positions in the photo's own frame (padding lies outside [-1, 1]), as in Python
            if (ctx) fillContext(tile, d + 3, ctx, thumb, i, j, th, tw, y0 - py.before, x0 - px.before, H, W);
          }
        }
        const { data, shape } = await this.engine(tile, th, tw);
        if (shape.length !== 4 || shape[1] !== TH || shape[2] !== TW) {
          throw new Error(`inference mode 'tile' needs outputs of output.scale (${S}) times the input's size, ${TH}x${TW}; got ${shape}`);
        }
        if (!acc) { C = shape[3]; acc = new Float32Array(PH * S * OPW * C); }
        const Y = y0 * S, X = x0 * S;
        for (let i = 0; i < TH; i++) {
          for (let j = 0; j < TW; j++) {
            const wgt = f(wy[i] * wx[j]);
            const p = (Y + i) * OPW + X + j, q = (i * TW + j) * C;
            for (let c = 0; c < C; c++) acc[p * C + c] = f(acc[p * C + c] + f(data[q + c] * wgt));
            wsum[p] = f(wsum[p] + wgt);
          }
        }
        done += 1;
        onProgress(done / (ys.length * xs.length));
      }
    }
    const OH = H * S, OW = W * S, T = py.before * S, L = px.before * S;
    const out = new Float32Array(OH * OW * C);
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const p = (i + T) * OPW + j + L;
        for (let c = 0; c < C; c++) out[(i * OW + j) * C + c] = f(acc[p * C + c] / wsum[p]);
      }
    }
    return { data: out, h: OH, w: OW, c: C };
  }

  /**
   * Run on an ImageData / canvas / <img>; returns {imageData, mask | image (+ ab), timings}:
   * alpha: mask Float32Array HxW in [0, 1] and the RGBA cut-out; image: Float32Array HxWx3 in
   * [0, 1] and the photo (the input's alpha kept); ab: also ab, Float32Array HxWx2 (CIE a*, b*).
   */
  async predict(input, opts = {}) {
    if (this.inputKind === "latent") {   // runtime/model.py mode_sample
      throw new Error(`the ${this.task} model generates images from a seed and takes no photo: use generate(n, seed)`);
    }
    const t0 = performance.now();
    const photo = input && input.rgb ? input : toPhoto(input);
    const raw = await this.infer(photo, opts.onProgress);
    const t1 = performance.now();
    const result = OUTPUT_KINDS[this.kind].postprocess(raw, photo, this.manifest.output);
    const t2 = performance.now();
    this.timings = { infer_ms: t1 - t0, post_ms: t2 - t1, total_ms: t2 - t0 };
    const { imageData, ...outputs } = result;
    return { imageData, ...outputs, timings: this.timings };
  }

  /** How many latents one graph call takes: the graph's signature batch size (-1: any, run up to 16). */
  latentBatch() {
    const ins = ((this.signature || {}).inputs) || {};
    const first = Object.values(ins)[0];
    const dims = first && first.tensorShape && first.tensorShape.dim;
    const b = dims && dims.length ? Number(dims[0].size) : 1;
    return b === -1 ? 16 : Math.max(1, b || 1);
  }

  /**
   * A latent model's images for samples start .. start + n - 1 of `seed` (runtime/model.py
   * Model.generate): ImageData each, RGBA (alpha 255), output.range mapped to 0..255. The same seed
   * gives the same images in any batch size and in Python (`latents`). opts: start, onProgress(fraction).
   * At most MAX_IMAGES per call.
   */
  async generate(n, seed = 0, opts = {}) {
    if (this.inputKind !== "latent") throw new Error(`the ${this.task} model takes a photo, not a seed: use predict(photo)`);
    checkCount(n);
    const t0 = performance.now();
    const start = opts.start || 0, D = this.latentDim, progress = opts.onProgress || (() => {});
    const z = latents(seed, n, D, start);
    const [H, W] = this.outputSize;
    const [lo, hi] = this.manifest.output.range || [0, 1];
    const flo = f(lo), den = f(Math.max(hi - lo, 1e-12));
    const B = this.latentBatch(), images = [];
    for (let i = 0; i < n; i += B) {
      const b = Math.min(B, n - i);
      const { data, shape } = await this.execute(z.subarray(i * D, (i + b) * D), [b, D]);
      // NHWC (TF.js's own layout); an NCHW output (3 x H x W) is read as such
      const nchw = shape.length === 4 && shape[2] === H && shape[3] === W && !(shape[1] === H && shape[2] === W);
      if (shape.length !== 4 || !(nchw || (shape[1] === H && shape[2] === W))) {
        throw new Error(`the ${this.task} model gives shape [${shape}], the manifest's output.size is [${H}, ${W}]`);
      }
      const C = nchw ? shape[1] : shape[3];
      if (!(C === 1 || C >= 3)) throw new Error(`output kind 'image' needs 1 or 3+ channels, the model gives ${C}`);
      const at = nchw ? (s, p, c) => data[(s * C + c) * H * W + p] : (s, p, c) => data[(s * H * W + p) * C + c];
      for (let s = 0; s < b; s++) {
        const out = new Uint8ClampedArray(4 * H * W);
        for (let p = 0; p < H * W; p++) {
          for (let c = 0; c < 3; c++) {
            const v = clamp01(f(f(at(s, p, C === 1 ? 0 : c) - flo) / den));
            out[4 * p + c] = Math.trunc(f(f(v * 255.0) + 0.5));
          }
          out[4 * p + 3] = 255;
        }
        images.push(makeImageData(out, W, H));
      }
      progress((i + b) / n);
    }
    const ms = performance.now() - t0;
    this.timings = { infer_ms: ms, post_ms: 0, total_ms: ms };
    return images;
  }

  /** Run on an ImageData / canvas / <img>; returns an ImageData (cut-out, retouched or colour photo). */
  async run(input, opts = {}) {
    return (await this.predict(input, opts)).imageData;
  }

  dispose() {
    if (this.graph) { this.graph.dispose(); this.graph = null; }
  }
}

/** Fit an image into maxSide x maxSide (Pillow-style bilinear), as `edgephoto run --downscale`. */
export function downscale(imageData, maxSide = 1024) {
  const { width: w, height: h } = imageData;
  const s = maxSide / Math.max(w, h);
  if (s >= 1) return imageData;
  const W2 = Math.max(1, Math.round(w * s)), H2 = Math.max(1, Math.round(h * s));
  return makeImageData(resizeU8(imageData.data, w, h, 4, W2, H2), W2, H2);
}
