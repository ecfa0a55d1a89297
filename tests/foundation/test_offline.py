"""Nothing reaches the network: the embedding model loads from the installed package and the
heavy libraries import with every outbound connection refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

NO_NETWORK = """
import socket
def _refuse(*args, **kwargs):
    raise OSError("network disabled by test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "LITELLM_"))}
    return subprocess.run([sys.executable, "-c", NO_NETWORK + code], capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.slow
def test_embedding_model_loads_from_the_package_without_network():
    result = _run(
        "import numpy as np\n"
        "from orchestrator.embeddings import Embedder\n"
        "e = Embedder()\n"
        "v = e.encode(['route me to a math expert', 'write a haiku'])\n"
        "assert v.shape == (2, 384), v.shape\n"
        "assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)\n"
        "assert 'site-packages' in str(e.path) and len(e.fingerprint) == 64\n"
        "print('ok', e.name)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok sentence-transformers/all-MiniLM-L6-v2" in result.stdout


@pytest.mark.slow
def test_litellm_and_langgraph_import_without_network():
    result = _run("import orchestrator, litellm, langgraph.graph\nprint('ok')\n")
    assert result.returncode == 0, result.stderr[-2000:]


def test_cli_help_is_fast_and_imports_no_heavy_library():
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from orchestrator.cli import app; "
         "heavy = [m for m in ('torch', 'sentence_transformers', 'litellm', 'langgraph', 'ray', 'redis', 'helm_python') if m in sys.modules]; "
         "print(heavy)"],
        capture_output=True, text=True, timeout=60,
    )
    elapsed = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert elapsed < 3.0
