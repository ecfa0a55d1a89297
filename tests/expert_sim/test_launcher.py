"""The launcher and `orchestrator sim`: real processes, free ports, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from services.expert_sim.launcher import SimProcess, SimSpec, SimulatorStartError, start_simulators

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_start_simulators_yields_healthy_servers_and_stops_them() -> None:
    with start_simulators([SimSpec("one"), SimSpec("two")]) as sims:
        assert len({s.port for s in sims}) == 2
        for s in sims:
            assert httpx.get(f"{s.api_base}/models", timeout=10).json()["data"][0]["id"] == s.served_model_name
        procs = [s.process for s in sims]
    assert all(p is not None and p.poll() is not None for p in procs)


def test_simulator_that_cannot_start_reports_its_error(tmp_path: Path) -> None:
    sim = SimProcess(SimSpec("broken", replay=tmp_path / "missing.jsonl"), startup_timeout_s=10)
    with pytest.raises(SimulatorStartError, match="missing.jsonl: file not found"):
        sim.start().wait_healthy()
    sim.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_orchestrator_sim_serves_each_expert_until_terminated(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "experts.yaml"
    config.write_text(
        f"""
experts:
  - name: alpha
    model: hosted_vllm/org/Alpha-7B
    api_base: http://127.0.0.1:{port}/v1
    roles: [expert, aggregator]
    params_b: 7
simulator:
  replay_dataset: does-not-exist.jsonl
"""
    )
    cli = Path(sys.executable).parent / "orchestrator"
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [str(cli), "sim", "--config", str(config), "--time-scale", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        table = ""
        while f"{port}/v1" not in table:  # the endpoint table appears once every server is healthy
            line = proc.stdout.readline()
            assert line, f"orchestrator sim exited: {proc.stderr.read() if proc.stderr else ''}"
            table += line
        r = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
        assert r.json()["data"][0]["id"] == "org/Alpha-7B"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert "alpha" in table
    assert "not found; experts answer from templates" in err
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)


def test_orchestrator_sim_rejects_unknown_only_name(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "orchestrator"
    out = subprocess.run(
        [str(cli), "sim", "--config", str(REPO / "experts.yaml"), "--only", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "unknown expert(s) nope" in out.stderr
