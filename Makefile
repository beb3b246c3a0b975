PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo lint bench soak reproduce clean

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
	$(BIN)/python benchmarks/train_step.py --preset mnist_iddpm
	$(BIN)/python benchmarks/train_step.py --preset mnist_ddgan
	$(BIN)/python benchmarks/train_step.py --preset cifar10_vdm --batch 8
	$(BIN)/python benchmarks/train_loop.py --n_embd 16 --n_layer 1 --batch 8 --steps 100
	$(BIN)/python benchmarks/sampling.py --batch 64
	$(BIN)/python benchmarks/substeps.py --preset mnist_demo --substeps 2 --steps 2
	$(BIN)/python benchmarks/scan_vs_unrolled.py --n_layer 8 --channels 32 --size 16 --batch 4
	$(BIN)/python benchmarks/scan_vs_unrolled.py --n_layer 32 --channels 32 --size 16 --batch 4
	$(BIN)/python benchmarks/conv_in_loop.py
	$(BIN)/python benchmarks/profile_step.py --preset mnist_demo

# the CPU-scale experiments of the papers, each resumable, then the tables (results/)
reproduce: $(STAMP)
	$(BIN)/python experiments/vdm_ablations.py
	$(BIN)/python experiments/iddpm_objectives.py
	$(BIN)/python experiments/iddpm_respacing.py --variants hybrid,simple
	$(BIN)/python experiments/cfg_mog.py
	$(BIN)/python experiments/guidance_mnist.py
	$(BIN)/python experiments/likelihood_table.py --rtol 1e-3 --num_examples 32
	$(BIN)/python experiments/ddgan_25gaussians.py
	$(BIN)/python experiments/ddgan_mnist.py
	$(BIN)/python experiments/ddgan_stackedmnist.py
	$(BIN)/python experiments/paper_wallclock.py
	$(BIN)/python experiments/paper_tables.py

soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --minutes 60

clean:
	rm -rf $(VENV) runs
