# Two commands do everything on a fresh machine:
#   make run    install into .venv/, ingest corpus/ (only what changed), start the web app
#   make test   install the dev extras into .venv/ and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
# llama-cpp-python (the [llm] extra) builds from source: CPU only, AVX2-level code rather than -march=native,
# so that pip's cached wheel also runs on another machine of this kind.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test install install-dev install-llm ingest browser clean

run: install ingest
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py --host $(HOST) --port $(PORT)

test: install-dev browser
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest -q

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# LLM answers without the dev tools: `make install-llm`, then RAG_GENERATOR=local make run
install-llm: $(VENV)/.created
	$(PIP) -e ".[llm]"

$(VENV)/.created:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PIP) torch==2.13.0
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP) -e ".[dev]"
	touch $@ $(VENV)/.installed

ingest: install
	$(PY) -m ingest corpus/ --wait 600

# Debian's Chromium for the browser tests (Playwright drives it; it cannot download browsers here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

clean:
	rm -rf $(VENV) .rag-index
