"""Dequantise a GGUF file into a Hugging Face folder the CPU build of vLLM can serve.

Usage (with the vLLM venv's python, which has transformers and gguf): ``python convert_gguf.py GGUF OUT_DIR``

vLLM 0.32's CPU build cannot load GGUF itself (its GGUF plugin needs CUDA). transformers reads
the GGUF with ``GgufConfig(dequantize=True)``, but a quantised model refuses ``save_pretrained``,
so the model is rebuilt from its config, the dequantised state dict loaded into it and saved.
The output is deterministic. ``OUT_DIR`` is written through a temporary sibling and renamed, so
an interrupted conversion never leaves a half folder that looks complete.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:  # transformers 5.x
        from transformers import GgufConfig

        load_kw: dict = {"quantization_config": GgufConfig(dequantize=True)}
    except ImportError:  # older transformers dequantise GGUF by default
        load_kw = {}
    folder, name = str(gguf.parent), gguf.name
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, **load_kw)
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in loaded.state_dict().items()}
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config.torch_dtype = "float32"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied embeddings have no lm_head in the file; anything else missing is a real problem.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"converted {gguf} -> {out} ({sum(p.numel() for p in model.parameters()) / 1e6:.0f} M params)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
