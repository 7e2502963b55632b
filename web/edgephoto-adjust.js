/**
 * edgephoto adjustments for the browser (and Node): brightness, contrast, colour balance.
 *
 * The same formulas and constants as edgephoto/runtime/adjust.py (tests/test_adjust.py runs both on
 * one image and compares them). Works on ImageData-like objects {data: Uint8ClampedArray RGBA,
 * width, height}; alpha is kept. Each value is a number in [-100, 100] or "auto"; at most three.
 *
 *   import { adjust } from "./edgephoto-adjust.js";
 *   const { image, done } = adjust(ctx.getImageData(0, 0, w, h), { brightness: "auto", contrast: 20 });
 */
export const ORDER = ["color", "brightness", "contrast"];
export const LUMA = [0.299, 0.587, 0.114];
export const AUTO_BRIGHTNESS_TARGET = 0.46;
export const AUTO_CONTRAST_PERCENTILES = [1, 99];
export const AUTO_CONTRAST_MIN_SPAN = 0.02;
export const GAIN_LIMITS = [0.5, 2.0];
export const MAX_AT_ONCE = 3;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export function parseValue(name, value) {
  if (typeof value === "string") {
    if (value.trim().toLowerCase() === "auto") return "auto";
    const v = Number(value);
    if (value.trim() === "" || Number.isNaN(v)) {
      throw new Error(`${name} must be a number in [-100, 100] or 'auto', got '${value}'`);
    }
    value = v;
  }
  if (!(value >= -100 && value <= 100)) {
    throw new Error(`${name} ${value} is out of range: use a number in [-100, 100] or 'auto'`);
  }
  return value;
}

function lumaOf(x, n) {
  const l = new Float64Array(n);
  for (let i = 0; i < n; i++) l[i] = x[3 * i] * LUMA[0] + x[3 * i + 1] * LUMA[1] + x[3 * i + 2] * LUMA[2];
  return l;
}

// numpy's default ("linear") percentile
function percentile(sorted, q) {
  const k = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(k), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo);
}

const OPS = {
  color(x, n, value) {
    let gains;
    if (value === "auto") {
      const m = [0, 0, 0];
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) m[c] += x[3 * i + c];
      for (let c = 0; c < 3; c++) m[c] /= n;
      const mean = (m[0] + m[1] + m[2]) / 3;
      gains = m.map((v) => clamp(mean / Math.max(v, 1e-6), GAIN_LIMITS[0], GAIN_LIMITS[1]));
    } else {
      gains = [1 + value / 200, 1, 1 - value / 200];
    }
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) x[3 * i + c] *= gains[c];
    return { gains };
  },
  brightness(x, n, value) {
    let gain;
    if (value === "auto") {
      const l = lumaOf(x, n);
      let s = 0;
      for (let i = 0; i < n; i++) s += l[i];
      gain = clamp(AUTO_BRIGHTNESS_TARGET / Math.max(s / n, 1e-6), GAIN_LIMITS[0], GAIN_LIMITS[1]);
    } else {
      gain = 2 ** (value / 100);
    }
    for (let i = 0; i < 3 * n; i++) x[i] *= gain;
    return { gain };
  },
  contrast(x, n, value) {
    if (value === "auto") {
      const l = lumaOf(x.map((v) => clamp(v, 0, 1)), n).sort();
      const lo = percentile(l, AUTO_CONTRAST_PERCENTILES[0]);
      const hi = percentile(l, AUTO_CONTRAST_PERCENTILES[1]);
      if (hi - lo < AUTO_CONTRAST_MIN_SPAN) return { low: lo, high: hi, stretched: false };
      for (let i = 0; i < 3 * n; i++) x[i] = (x[i] - lo) / (hi - lo);
      return { low: lo, high: hi };
    }
    const k = 1 + value / 100;
    for (let i = 0; i < 3 * n; i++) x[i] = (x[i] - 0.5) * k + 0.5;
    return { factor: k };
  },
};

/** Apply up to three adjustments; returns {image: new ImageData-like, done: [...]} */
export function adjust(image, adjustments) {
  const items = Array.isArray(adjustments) ? adjustments : Object.entries(adjustments);
  if (items.length === 0) throw new Error("no adjustment given: use brightness, contrast and/or color");
  if (items.length > MAX_AT_ONCE) throw new Error(`at most ${MAX_AT_ONCE} adjustments at once, got ${items.length}`);
  const names = items.map(([n]) => n);
  for (const n of names) if (!ORDER.includes(n)) throw new Error(`unknown adjustment '${n}' (known: ${ORDER.join(", ")})`);
  if (new Set(names).size !== names.length) throw new Error("each adjustment may be given once");
  const wanted = Object.fromEntries(items.map(([n, v]) => [n, parseValue(n, v)]));
  const { data, width, height } = image;
  const n = width * height;
  const x = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) x[3 * i + c] = data[4 * i + c] / 255;
  const done = [];
  for (const name of ORDER) {
    if (name in wanted) done.push({ name, value: wanted[name], ...OPS[name](x, n, wanted[name]) });
  }
  const out = new Uint8ClampedArray(data.length);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[4 * i + c] = Math.floor(clamp(x[3 * i + c], 0, 1) * 255 + 0.5);
    out[4 * i + 3] = data[4 * i + 3];
  }
  return { image: { data: out, width, height }, done };
}
