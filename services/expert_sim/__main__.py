"""``python -m services.expert_sim --port P --served-model-name NAME [options]``: one simulated vLLM server."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from services.expert_sim.settings import SimSettings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.expert_sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--fd", type=int, default=None, help="serve on an already bound, listening socket (launcher)")
    p.add_argument("--served-model-name", nargs="+", required=True, help="first name is the one responses carry")
    p.add_argument("--model", dest="model_root", default=None, help="what /v1/models reports as root")
    p.add_argument("--expert", default=None, help="expert name in the replay dataset (default: served name)")
    p.add_argument("--replay", type=Path, default=None, help="routing dataset (JSONL) to replay answers from")
    p.add_argument(
        "--params-b", type=float, default=7.6, help="parameter count, billions (scales latency, sleep, wake)"
    )
    p.add_argument("--max-num-seqs", type=int, default=256)
    p.add_argument("--max-model-len", type=int, default=8192)
    p.add_argument("--kv-cache-tokens", type=int, default=None, help="KV-cache budget (default 16 x max-model-len)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply every simulated delay (0 = instant)")
    p.add_argument("--ttft-base-ms", type=float, default=15.0)
    p.add_argument("--ttft-per-1k-prompt-tokens-ms", type=float, default=20.0)
    p.add_argument("--itl-ms", type=float, default=2.0)
    p.add_argument("--itl-per-running-seq-ms", type=float, default=0.05)
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of generations answered with HTTP 500")
    p.add_argument("--stall-rate", type=float, default=0.0, help="fraction of generations that hang for --stall-s")
    p.add_argument("--stall-s", type=float, default=600.0)
    p.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of generations whose connection is cut mid-body"
    )
    p.add_argument("--slow-stream-ms", type=float, default=0.0, help="extra delay between stream chunks")
    p.add_argument("--api-key", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sleep-mode", action=argparse.BooleanOptionalAction, default=True, help="serve /sleep, /wake_up, /is_sleeping"
    )
    p.add_argument(
        "--tool-calling", action=argparse.BooleanOptionalAction, default=True,
        help="act as if served with --enable-auto-tool-choice --tool-call-parser (else refuse tool_choice as vLLM does)",
    )
    p.add_argument("--log-level", default="warning")
    return p


def settings_from_args(args: argparse.Namespace) -> SimSettings:
    return SimSettings(
        served_model_names=tuple(args.served_model_name),
        expert=args.expert,
        model_root=args.model_root,
        replay=args.replay,
        params_b=args.params_b,
        max_num_seqs=args.max_num_seqs,
        max_model_len=args.max_model_len,
        kv_cache_tokens=args.kv_cache_tokens,
        time_scale=args.time_scale,
        ttft_base_ms=args.ttft_base_ms,
        ttft_per_1k_prompt_tokens_ms=args.ttft_per_1k_prompt_tokens_ms,
        itl_ms=args.itl_ms,
        itl_per_running_seq_ms=args.itl_per_running_seq_ms,
        error_rate=args.error_rate,
        stall_rate=args.stall_rate,
        stall_s=args.stall_s,
        drop_rate=args.drop_rate,
        slow_stream_ms=args.slow_stream_ms,
        api_key=args.api_key,
        seed=args.seed,
        sleep_mode=args.sleep_mode,
        tool_calling=args.tool_calling,
    )


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from orchestrator.errors import DatasetError
    from services.expert_sim.app import create_app

    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        if settings.replay is not None and not settings.replay.is_file():
            raise ValueError(f"--replay {settings.replay}: file not found")
        app = create_app(settings)
    except (ValueError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Stalled requests must not hold up a shutdown for long.
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level, access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    sockets = [socket.socket(fileno=args.fd)] if args.fd is not None else None
    server.run(sockets=sockets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
