// The edgephoto editor page: upload, remove background, auto retouch, upscale x4, deblur, colorize, adjustments, save;
// and "Generate art": seeded paintings from the art generator (64 px, 256 / 1024 through the 4x upscaler).
// Everything runs in the browser (TF.js, vendored by `make web`); see edgephoto.js for the models.
//
// URL parameters: <task>=<manifest URL> for matte, retouch, upscale, deblur, colorize (default: the shipped tfjs_fp16
// bundles listed in models.json, written by `make web`), generate-<side>=<pipeline file URL> for 64, 256, 1024
// (default: the pipelines listed in models.json), backend=webgl|wasm|cpu, vendor=<URL of the TF.js files>,
// index=<URL of the model index>.
import { loadModel, loadPipeline, ensureTF, backendName, getTF, toPhoto, downscale, makeImageData, checkCount,
         contactSheet, GENERATE_SIDES, MAX_IMAGES } from "./edgephoto.js";
import { adjust, MAX_AT_ONCE } from "./edgephoto-adjust.js";

export const MAX_UPLOAD_MB = 35;   // edgephoto/runtime/imageio.py
export const MAX_SIDE = 1024;
// task -> the label of its button (button id = BUTTONS[task])
const TASKS = { matte: "Remove background", retouch: "Auto retouch", upscale: "Upscale x4", deblur: "Deblur",
                colorize: "Colorize" };
const BUTTONS = { matte: "remove-bg", retouch: "retouch", upscale: "upscale", deblur: "deblur", colorize: "colorize" };
export const MAX_OUTPUT_SIDE = 4096;   // edgephoto/runtime/model.py: WebGL's texture limit
const ADJ = ["brightness", "contrast", "color"];

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const state = {
  original: null,   // ImageData of the upload
  base: null,       // the result before adjustments (after the last model run)
  result: null,     // what the result canvas shows (exact values, not read back from the canvas)
  cutout: false,    // the result has transparency (background removed) -> PNG on save
  busy: false,
  pending: null,    // an over-size upload waiting for "downscale"
  models: {},       // task -> Promise<Model>
  timings: {},
  gen: {
    pipelines: {},  // side -> pipeline file URL (models.json, or generate-<side>=)
    loaded: {},     // side -> Promise<Pipeline>
    cache: new Map(),   // step manifest URL -> Promise<Model>: steps shared by the sides load once
    canvases: [],   // the generated images (their canvases hold the pixels: opaque, so read back exactly)
    selected: -1,
    seed: 0, side: 0,
    running: null,  // the AbortController of a run
    ready: false,   // the index was read
  },
};

function message(text, ok = false) {
  $("message").textContent = text;
  $("message").className = ok ? "ok" : "";
}

function status(text) { $("status").textContent = text; }

function progress(v) { $("progress").value = v; }

function updateButtons() {
  const has = !!state.original && !state.busy;
  for (const id of [...Object.values(BUTTONS), "reset"]) $(id).disabled = !has;
  const anyAdj = ADJ.some((a) => $(`on-${a}`).checked);
  $("adjust").disabled = !has || !anyAdj;
  $("save").disabled = !has || !state.result;
  $("file").disabled = state.busy;
  const g = state.gen, any = Object.keys(g.pipelines).length > 0;
  for (const id of ["gen-seed", "gen-count", "gen-size"]) $(id).disabled = !any || state.busy;
  $("generate").disabled = !any || state.busy || !g.pipelines[$("gen-size").value];
  $("gen-stop").disabled = !g.running;
  $("gen-save").disabled = state.busy || g.selected < 0;
  $("gen-edit").disabled = state.busy || g.selected < 0;
  $("gen-sheet").disabled = state.busy || !g.canvases.length;
}

function draw(canvas, img) {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext("2d").putImageData(makeImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

function showResult(img, cutout) {
  state.result = img;
  state.cutout = cutout;
  draw($("result"), img);
}

// --------------------------------------------------------------------------------------- upload
function sniff(bytes) {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "PNG";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "JPEG";
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return "GIF";
  if (bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46) return "WEBP";
  if (bytes[0] === 0x42 && bytes[1] === 0x4d) return "BMP";
  return "";
}

async function onFile(file) {
  state.pending = null;
  $("downscale").classList.add("hidden");
  if (!file) return;
  const mb = file.size / 1e6;
  if (mb > MAX_UPLOAD_MB) {
    message(`${file.name} is ${mb.toFixed(1)} MB; the largest accepted upload is ${MAX_UPLOAD_MB} MB`);
    return;
  }
  const fmt = sniff(new Uint8Array(await file.slice(0, 8).arrayBuffer()));
  if (fmt !== "PNG" && fmt !== "JPEG") {
    message(`${file.name} is a ${fmt || "unknown"} image; only JPEG and PNG are accepted`);
    return;
  }
  let bmp;
  try {
    bmp = await createImageBitmap(file, { premultiplyAlpha: "none", colorSpaceConversion: "none", imageOrientation: "from-image" });
  } catch (e) {
    message(`${file.name} is corrupt or truncated (${e.message})`);
    return;
  }
  const c = document.createElement("canvas");
  c.width = bmp.width; c.height = bmp.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const img = ctx.getImageData(0, 0, c.width, c.height);
  if (Math.max(img.width, img.height) > MAX_SIDE) {
    state.pending = { img, name: file.name };
    message(`${file.name} is ${img.width}x${img.height}; the largest accepted image is ${MAX_SIDE}x${MAX_SIDE} ` +
            `(use "Downscale" to shrink it to fit)`);
    $("downscale").classList.remove("hidden");
    return;
  }
  accept(img, `${file.name}: ${img.width}x${img.height} ${fmt}`);
}

function accept(img, what) {
  state.original = img;
  state.base = img;
  state.timings = {};
  draw($("original"), img);
  showResult(img, false);
  message(`Loaded ${what}.`, true);
  status("Ready: remove the background, retouch, upscale, deblur, colorize or adjust.");
  progress(0);
  updateButtons();
}

function onDownscale() {
  if (!state.pending) return;
  const { img, name } = state.pending;
  state.pending = null;
  $("downscale").classList.add("hidden");
  const t0 = performance.now();
  const small = downscale(img, MAX_SIDE);
  accept(small, `${name}: downscaled from ${img.width}x${img.height} to ${small.width}x${small.height} ` +
                `in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

// --------------------------------------------------------------------------------------- models
let indexPromise = null;

function modelIndex() {
  if (!indexPromise) {
    indexPromise = fetch(params.get("index") || "models.json").then((r) => (r.ok ? r.json() : { models: [] }))
      .catch(() => ({ models: [] }));
  }
  return indexPromise;
}

async function manifestUrl(task) {
  if (params.get(task)) return params.get(task);
  const idx = await modelIndex();
  const mine = (idx.models || []).filter((m) => m.task === task);
  const rank = (m) => (m.shipped ? 0 : 10) + (m.key === "tfjs_fp16" ? 0 : 1);
  mine.sort((a, b) => rank(a) - rank(b));
  if (mine.length) return mine[0].url;
  return `../dist/${task}/starter/tfjs_fp16/manifest.json`;
}

function getModel(task) {
  if (!state.models[task]) {
    state.models[task] = (async () => {
      const url = await manifestUrl(task);
      const t0 = performance.now();
      status(`Loading the ${task} model (${url}) ...`);
      const model = await loadModel(url, {
        backend: params.get("backend") || undefined,
        vendor: params.get("vendor") ? new URL(params.get("vendor"), location.href).href : undefined,
        onProgress: (p) => progress(p),
      });
      model.loadSeconds = (performance.now() - t0) / 1000;
      showBackend();
      return model;
    })();
    state.models[task].catch(() => { delete state.models[task]; });
  }
  return state.models[task];
}

function showBackend() {
  const tf = getTF();
  let extra = "";
  if (backendName() === "webgl") extra = `, max texture ${tf.env().getNumber("WEBGL_MAX_TEXTURE_SIZE")}`;
  $("backend").textContent = `TF.js ${tf.version_core || ""} backend: ${backendName()}${extra}`;
}

async function busy(label, fn, report = message) {
  state.busy = true;
  updateButtons();
  progress(0);
  const t0 = performance.now();
  try {
    const extra = await fn();
    const s = (performance.now() - t0) / 1000;
    state.timings[label] = s;
    status(`${label}: done in ${s.toFixed(2)} s${extra ? ` (${extra})` : ""}`);
    progress(1);
  } catch (e) {
    status(`${label} failed: ${e.message}`);
    report(`${label} failed: ${e.message}`);
    console.error(e);
  } finally {
    state.busy = false;
    updateButtons();
  }
}

async function runTask(task) {
  await busy(TASKS[task], async () => {
    const fresh = !state.models[task];
    const model = await getModel(task);
    const loaded = fresh ? `model loaded in ${model.loadSeconds.toFixed(2)} s, ` : "";
    status(`${TASKS[task]}: running on ${backendName()} ...`);
    progress(0);
    // models run on the current result's RGB (so retouch keeps a removed background and vice
    // versa) with the upload's own alpha (so removing the background twice doesn't compound)
    const photo = toPhoto(state.result);
    const scaled = model.scale !== 1;   // e.g. upscale x4: the result is larger than its input
    if (scaled && Math.max(photo.width, photo.height) * model.scale > MAX_OUTPUT_SIDE) {
      throw new Error(`the result would be ${photo.width * model.scale}x${photo.height * model.scale}; ` +
                      `at most ${MAX_OUTPUT_SIDE} px a side`);
    }
    // a larger result carries the current transparency (resized by the model's output kind)
    photo.alpha = scaled ? photo.alpha : toPhoto(state.original).alpha;
    const res = await model.predict(photo, { onProgress: (p) => progress(p) });
    if (task !== "matte" && !scaled) {   // keep the current transparency (e.g. a removed background)
      const d = res.imageData.data, cur = state.result.data;
      for (let i = 3; i < d.length; i += 4) d[i] = cur[i];
    }
    state.base = res.imageData;
    showResult(res.imageData, state.cutout || task === "matte");
    return `${loaded}inference ${(res.timings.total_ms / 1000).toFixed(2)} s on ${backendName()}`;
  });
}

// ---------------------------------------------------------------------------------- adjustments
function wantedAdjustments() {
  const items = [];
  for (const a of ADJ) {
    if (!$(`on-${a}`).checked) continue;
    items.push([a, $(`auto-${a}`).checked ? "auto" : Number($(`val-${a}`).value)]);
  }
  return items.slice(0, MAX_AT_ONCE);
}

async function onAdjust() {
  await busy("Adjustments", async () => {
    const items = wantedAdjustments();
    // adjustments apply to the last model result, so moving a slider and applying again doesn't compound
    const { image, done } = adjust(state.base, items);
    showResult(makeImageData(image.data, image.width, image.height), state.cutout);
    return done.map((d) => `${d.name} ${d.value}`).join(", ");
  });
}

function onReset() {
  state.base = state.original;
  showResult(state.original, false);
  status("Back to the original.");
  updateButtons();
}

// -------------------------------------------------------------------------------- generate art
function genMessage(text, error = false) {
  $("gen-message").textContent = text;
  $("gen-message").className = error ? "error" : "";
}

/** The generator pipelines of models.json (web/make_index.py) or the generate-<side>= parameters. */
async function setupGenerate() {
  const idx = await modelIndex();
  const g = state.gen;
  for (const p of idx.pipelines || []) if (p.task === "generate" && GENERATE_SIDES.includes(p.side)) g.pipelines[p.side] = p.url;
  for (const side of GENERATE_SIDES) if (params.get(`generate-${side}`)) g.pipelines[side] = params.get(`generate-${side}`);
  g.ready = true;
  const sides = GENERATE_SIDES.filter((s) => g.pipelines[s]);
  for (const opt of $("gen-size").options) {
    const ok = !!g.pipelines[opt.value];
    opt.disabled = !ok;
    opt.textContent = `${opt.value} x ${opt.value}${ok ? "" : " (not available)"}`;
  }
  if (!sides.length) {
    const why = (idx.pipelines_skipped || []).map((s) => s.reason)[0];
    genMessage("Generate is not available: models.json lists no art generator (export one with " +
               "`make export TASK=generate` including tfjs_fp16, then run `make web`)" + (why ? `. ${why}` : "."), true);
  } else {
    $("gen-size").value = String(sides.includes(256) ? 256 : sides[0]);
    const missing = GENERATE_SIDES.filter((s) => !g.pipelines[s]);
    genMessage(`Art generator ready: ${sides.join(", ")} px` + (missing.length ? ` (${missing.join(", ")} px need ` +
               "the upscaler's TF.js bundle)" : "") + `. At most ${MAX_IMAGES} images per run.`);
  }
  updateButtons();
}

function getPipeline(side) {
  const g = state.gen;
  if (!g.loaded[side]) {
    g.loaded[side] = loadPipeline(g.pipelines[side], {
      backend: params.get("backend") || undefined,
      vendor: params.get("vendor") ? new URL(params.get("vendor"), location.href).href : undefined,
      onProgress: (p) => progress(p), cache: g.cache,
    }).then((pipe) => { showBackend(); return pipe; });
    g.loaded[side].catch(() => { delete g.loaded[side]; });
  }
  return g.loaded[side];
}

function selectGenerated(i) {
  const g = state.gen;
  g.selected = i;
  g.canvases.forEach((c, k) => c.classList.toggle("selected", k === i));
  updateButtons();
}

function generatedImage(i) {
  const c = state.gen.canvases[i];
  return c.getContext("2d").getImageData(0, 0, c.width, c.height);
}

async function onGenerate() {
  const g = state.gen;
  const side = Number($("gen-size").value), seed = Number($("gen-seed").value), n = Number($("gen-count").value);
  await busy("Generate", async () => {
    checkCount(n);   // the runtime's one line (at most MAX_IMAGES) before anything loads
    const fresh = !g.loaded[side];
    const t0 = performance.now();
    status(`Generate: loading the ${side} px pipeline ...`);
    const pipe = await getPipeline(side);
    const loaded = fresh ? `pipeline loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s, ` : "";
    g.canvases = []; g.selected = -1; g.seed = seed; g.side = side;
    const grid = $("gen-grid");
    grid.replaceChildren();
    $("gen-view").classList.remove("hidden");
    $("gen-caption").textContent = `Generated: seed ${seed}, ${side}x${side} (${pipe.describe()}); click one to select it`;
    g.running = new AbortController();
    updateButtons();
    status(`Generate: ${n} image(s) of seed ${seed} at ${side} px on ${backendName()} ...`);
    const t1 = performance.now();
    try {
      await pipe.generate(n, seed, {
        signal: g.running.signal, onProgress: (p) => progress(p),
        onImage: (i, img) => {
          const c = document.createElement("canvas");
          draw(c, img);
          c.title = `seed ${seed}, image ${i}`;
          c.dataset.index = String(i);
          c.addEventListener("click", () => selectGenerated(i));
          grid.appendChild(c);
          g.canvases.push(c);
          if (g.selected < 0) selectGenerated(0);
          else updateButtons();
        },
      });
    } finally {
      g.running = null;
    }
    const s = (performance.now() - t1) / 1000;
    genMessage(`${n} image(s) of seed ${seed} at ${side}x${side} in ${s.toFixed(2)} s.`);
    return `${loaded}${n} image(s) at ${side} px, ${(s / n).toFixed(2)} s each on ${backendName()}`;
  }, (text) => genMessage(text, true));
}

async function saveCanvas(canvas, name) {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const a = $("download");
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  return `${name}, ${(blob.size / 1e3).toFixed(0)} kB`;
}

// the file names of `edgephoto run generate`
const pad3 = (i) => String(i).padStart(3, "0");

async function onGenSave() {
  const g = state.gen;
  await busy("Save", () => saveCanvas(g.canvases[g.selected], `seed${g.seed}_${pad3(g.selected)}_${g.side}px.png`),
             (text) => genMessage(text, true));
}

async function onGenSheet() {
  const g = state.gen;
  await busy("Save", () => {
    const sheet = contactSheet(g.canvases.map((_, i) => generatedImage(i)));
    const c = document.createElement("canvas");
    draw(c, sheet);
    return saveCanvas(c, `seed${g.seed}_contact_sheet_${g.side}px.png`);
  }, (text) => genMessage(text, true));
}

function onGenEdit() {
  const g = state.gen;
  accept(generatedImage(g.selected), `generated image ${g.selected} of seed ${g.seed}: ${g.side}x${g.side}`);
}

// ------------------------------------------------------------------------------------------ save
async function onSave() {
  await busy("Save", async () => {
    const png = state.cutout;
    const canvas = $("result");
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, png ? "image/png" : "image/jpeg", 0.92));
    const a = $("download");
    if (a.href) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(blob);
    a.download = png ? "edgephoto.png" : "edgephoto.jpg";
    a.click();
    return `${a.download}, ${(blob.size / 1e3).toFixed(0)} kB`;
  });
}

// ---------------------------------------------------------------------------------------- wiring
$("file").addEventListener("change", (e) => onFile(e.target.files[0]));
$("downscale").addEventListener("click", onDownscale);
for (const [task, id] of Object.entries(BUTTONS)) $(id).addEventListener("click", () => runTask(task));
$("adjust").addEventListener("click", onAdjust);
$("reset").addEventListener("click", onReset);
$("save").addEventListener("click", onSave);
$("generate").addEventListener("click", onGenerate);
$("gen-stop").addEventListener("click", () => { if (state.gen.running) state.gen.running.abort(); });
$("gen-save").addEventListener("click", onGenSave);
$("gen-sheet").addEventListener("click", onGenSheet);
$("gen-edit").addEventListener("click", onGenEdit);
$("gen-size").addEventListener("change", updateButtons);
for (const a of ADJ) {
  $(`val-${a}`).addEventListener("input", () => {
    $(`out-${a}`).textContent = $(`val-${a}`).value;
    $(`on-${a}`).checked = true;
    updateButtons();
  });
  $(`auto-${a}`).addEventListener("change", () => {
    if ($(`auto-${a}`).checked) $(`on-${a}`).checked = true;
    $(`val-${a}`).disabled = $(`auto-${a}`).checked;
    updateButtons();
  });
  $(`on-${a}`).addEventListener("change", updateButtons);
}
updateButtons();
setupGenerate().catch((e) => genMessage(`Generate is not available: ${e.message}`, true));
// TF.js itself loads at once (small), the models only when first used
ensureTF({ backend: params.get("backend") || undefined,
           vendor: params.get("vendor") ? new URL(params.get("vendor"), location.href).href : undefined })
  .then(showBackend)
  .catch((e) => { $("backend").textContent = `TF.js failed to load: ${e.message}`; });

// for tests and integrators: the exact pixels (a canvas read-back loses RGB under partial alpha)
window.edgephotoApp = {
  state,
  result: () => state.result && { width: state.result.width, height: state.result.height,
                                  data: Array.from(state.result.data) },
  memory: () => getTF().memory(),
  backend: backendName,
  models: state.models,
  generated: () => state.gen.canvases.map((_, i) => {
    const im = generatedImage(i);
    return { width: im.width, height: im.height, data: Array.from(im.data) };
  }),
};
