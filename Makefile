# Two commands do all set-up on a fresh machine:
#   make demo   installs into .venv and runs the main job (the class-imbalance study on digits)
#   make test   installs into .venv and runs the test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.scoreuq-installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel on disk; any other torch spec downloads gigabytes
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/scoreuq study imbalance

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_sliced_wasserstein.py
	$(PY) benchmarks/bench_exact_w1.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_pc_sampler.py
	$(PY) benchmarks/bench_lipschitz.py
	$(PY) benchmarks/bench_likelihood.py
	$(PY) benchmarks/bench_siem.py
	$(PY) benchmarks/bench_sinkhorn.py --ns 500
	$(PY) benchmarks/bench_gpu.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
