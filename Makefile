PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo lint bench soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev,tfds]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -x -n 2 tests

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests || [ $$? -eq 5 ]

lint: $(STAMP)
	$(BIN)/ruff check vdmjax tests configs experiments benchmarks

demo: $(STAMP)
	$(BIN)/python -m vdmjax.demo --workdir=runs/mnist_vdm_demo

bench: $(STAMP)
	$(BIN)/python benchmarks/train_step.py --preset vdm_ref
	$(BIN)/python benchmarks/train_step.py --preset mnist_demo
	$(BIN)/python benchmarks/train_step.py --preset cifar10_vdm --batch 8
	$(BIN)/python benchmarks/sampling.py --batch 64
	$(BIN)/python benchmarks/scan_vs_unrolled.py --n_layer 8 --channels 32 --size 16 --batch 4
	$(BIN)/python benchmarks/scan_vs_unrolled.py --n_layer 32 --channels 32 --size 16 --batch 4

soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --minutes 60

clean:
	rm -rf $(VENV) runs
