"""experts.yaml: the default file validates; every malformed file gets one precise line per problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.config import load_config, parse_config
from orchestrator.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

GOOD = textwrap.dedent(
    """\
    version: 1
    experts:
      - name: general
        model: hosted_vllm/Qwen/Qwen2.5-7B-Instruct
        api_base: http://127.0.0.1:8101/v1
        roles: [expert, aggregator]
        price: {input_per_mtok: 0.1, output_per_mtok: 0.3}
        memory_gb: 18
      - name: math
        model: hosted_vllm/Qwen/Qwen2.5-Math-7B-Instruct
        api_base: http://127.0.0.1:8102/v1
        roles: [expert]
    router:
      k_min: 1
      k_max: 3
    """
)


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def test_default_experts_yaml_is_valid():
    cfg = load_config(REPO / "experts.yaml")
    assert len(cfg.experts) >= 6
    assert cfg.with_role("aggregator"), "the default composition names an aggregator"
    assert all(e.api_base for e in cfg.experts)


def test_expert_exposes_served_name_port_and_cost():
    cfg = parse_config(GOOD)
    e = cfg.expert("general")
    assert e.served_name == "Qwen/Qwen2.5-7B-Instruct"
    assert e.port == 8101
    assert e.price.cost(1_000_000, 1_000_000) == pytest.approx(0.4)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "experts.yaml"
    path.write_text(GOOD + "  artifacts: art/router\n")
    cfg = load_config(path)
    assert cfg.resolve_path(cfg.router.artifacts) == tmp_path / "art/router"


# (case id, document, expected path in the message, expected text, expected line)
MALFORMED = [
    ("unknown-top-level-key", GOOD + "colour: blue\n", "colour", "unknown key", 16),
    ("unknown-expert-key", _replace("    memory_gb: 18\n", "    memory_gb: 18\n    gpus: 2\n"), "experts[0].gpus", "unknown key", 9),
    ("duplicate-expert-name", _replace("  - name: math", "  - name: general"), "experts[1].name", "duplicate expert name 'general'", 9),
    ("role-nobody-fills", _replace("roles: [expert, aggregator]", "roles: [expert]"), "experts", "no expert has the role 'aggregator'", 2),
    ("bad-url", _replace("http://127.0.0.1:8102/v1", "127.0.0.1:8102"), "experts[1].api_base", "must be an http(s) URL", 11),
    ("bad-port", _replace("http://127.0.0.1:8102/v1", "http://127.0.0.1:99999/v1"), "experts[1].api_base", "invalid port", 11),
    ("negative-price", _replace("input_per_mtok: 0.1", "input_per_mtok: -0.1"), "experts[0].price.input_per_mtok", "greater than or equal to 0", 7),
    ("unknown-role", _replace("roles: [expert]", "roles: [expert, oracle]"), "experts[1].roles[1]", "'expert', 'aggregator', 'judge' or 'annotator'", 12),
    ("missing-model", _replace("    model: hosted_vllm/Qwen/Qwen2.5-Math-7B-Instruct\n", ""), "experts[1].model", "Field required", 9),
    ("k-min-above-k-max", _replace("k_min: 1", "k_min: 5"), "router", "k_min (5) must not exceed k_max (3)", 13),
    ("wrong-type", _replace("    memory_gb: 18\n", "    memory_gb: 18\n    max_concurrency: lots\n"), "experts[0].max_concurrency", "valid integer", 9),
    ("same-endpoint-twice", _replace("http://127.0.0.1:8102/v1", "http://127.0.0.1:8101/v1"), "experts[1].api_base", "one vLLM server serves one expert", 11),
    ("duplicate-yaml-key", _replace("    memory_gb: 18\n", "    memory_gb: 18\n    memory_gb: 20\n"), "", "duplicate key 'memory_gb'", 9),
    ("invalid-yaml", GOOD + "router: [unclosed\n", "", "not valid YAML", None),
    ("empty-experts", "version: 1\nexperts: []\n", "experts", "at least 1 item", 2),
    ("secret-in-env-name", _replace("    memory_gb: 18\n", "    memory_gb: 18\n    api_key_env: sk-123\n"), "experts[0].api_key_env", "should match pattern", 9),
    ("unknown-judge", GOOD + "verification: {enabled: true, judge: nobody}\n", "verification.judge", "unknown expert 'nobody'", 16),
    ("over-memory-budget", GOOD + "scheduler: {gpu_memory_budget_gb: 10}\n", "experts[0].memory_gb", "exceeds scheduler.gpu_memory_budget_gb", 8),
    ("unknown-expert-in-category-map", _replace("  k_max: 3\n", "  k_max: 3\n  category_experts: {math: [ghost]}\n"), "router.category_experts.math", "unknown expert 'ghost'", 16),
    ("not-a-mapping", "- just\n- a list\n", "", "must be a mapping", 1),
    ("bad-cost-weight", _replace("  k_max: 3\n", "  k_max: 3\n  cost_weight: fast\n"), "router.cost_weight", "must be a number >= 0 or 'cv'", 16),
    ("default-cascade-learned-without-dial", GOOD + "escalation:\n  default: {signal: learned}\n", "escalation.default", "signal 'learned' needs dial", 17),
    ("default-cascade-dial-and-threshold", GOOD + "escalation:\n  default: {signal: router, dial: beat, threshold: 0.5}\n",
     "escalation.default", "drop threshold or drop dial", 17),
    ("default-cascade-unknown-key", GOOD + "escalation:\n  default:\n    signal: router\n    thresh: 0.5\n", "escalation.default.thresh", "unknown key", 19),
]


@pytest.mark.parametrize(("doc", "path", "text", "line"), [pytest.param(*c[1:], id=c[0]) for c in MALFORMED])
def test_malformed_config_reports_path_line_and_reason(doc, path, text, line):
    with pytest.raises(ConfigError) as info:
        parse_config(doc, source="experts.yaml")
    matching = [p for p in info.value.problems if p.path == path and text in p.message]
    assert matching, f"no problem at {path!r} containing {text!r}: {[str(p) for p in info.value.problems]}"
    if line is not None:
        assert matching[0].line == line
    assert "experts.yaml" in str(matching[0])


def test_a_default_cascade_reads_like_the_request_option_and_is_located_for_later_checks():
    cfg = parse_config(GOOD + "escalation:\n  default: {signal: learned, dial: beat}\n", source="experts.yaml")
    assert (cfg.escalation.default.signal, cfg.escalation.default.dial) == ("learned", "beat")
    assert parse_config(GOOD).escalation.default is None, "no cascade unless experts.yaml asks for one"
    # a problem found after parsing (the artifact lacks the dial) still points at its line
    assert str(cfg.problem(("escalation", "default", "dial"), "no such dial")) == "experts.yaml:17: escalation.default.dial: no such dial"


def test_every_problem_is_reported_at_once():
    doc = _replace("input_per_mtok: 0.1", "input_per_mtok: -1") + "colour: blue\n"
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert {p.path for p in info.value.problems} >= {"experts[0].price.input_per_mtok", "colour"}


runner = CliRunner()


def test_cli_validate_prints_summary_and_exits_zero():
    result = runner.invoke(app, ["config", "validate", str(REPO / "experts.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout and "experts" in result.stdout


@pytest.mark.parametrize(("doc", "path", "text", "line"), [pytest.param(*c[1:], id=c[0]) for c in MALFORMED[:12]])
def test_cli_validate_exits_two_with_one_line_per_problem_and_no_traceback(tmp_path, doc, path, text, line):
    f = tmp_path / "experts.yaml"
    f.write_text(doc)
    result = runner.invoke(app, ["config", "validate", str(f)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert any(text in ln and f":{line}:" in ln and (path in ln) for ln in lines), lines


def test_cli_validate_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["config", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_cost_weight_defaults_to_the_cross_validated_dial_and_accepts_numbers():
    assert parse_config(GOOD).router.cost_weight == "cv"
    assert parse_config(_replace("  k_max: 3\n", "  k_max: 3\n  cost_weight: 0.25\n")).router.cost_weight == 0.25


def test_cli_error_lines_print_paths_and_line_numbers_literally(tmp_path):
    # rich would render ":100:" as an emoji and "[0]" as markup if the error console allowed it.
    doc = (REPO / "experts.yaml").read_text().replace("  cost_weight: cv ", "  cost_weight: fast ", 1)
    f = tmp_path / "experts.yaml"
    f.write_text(doc)
    line = next(i for i, text in enumerate(doc.splitlines(), start=1) if "cost_weight: fast" in text)
    result = runner.invoke(app, ["config", "validate", str(f)])
    assert result.exit_code == 2
    assert f"experts.yaml:{line}: router.cost_weight: must be a number >= 0 or 'cv', got 'fast'" in result.stderr
