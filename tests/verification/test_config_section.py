"""The ``verification:`` section of experts.yaml: problems name their path and line."""

import pytest

from orchestrator.config import parse_config
from orchestrator.errors import ConfigError

EXPERTS = """version: 1
experts:
  - {name: a, model: hosted_vllm/a, api_base: "http://127.0.0.1:9001/v1", roles: [expert, aggregator]}
  - {name: j, model: hosted_vllm/j, api_base: "http://127.0.0.1:9002/v1", roles: [expert, judge]}
verification:
"""


@pytest.mark.parametrize(
    ("section", "path", "text", "line"),
    [
        ("  judge: a\n", "verification.judge", "lacks the 'judge' role", 6),
        ("  mode: shouting\n", "verification.mode", "'debate', 'consultancy' or 'mad'", 6),
        ("  disagreement: sometimes\n", "verification.disagreement", "'any', 'no_majority' or 'off'", 6),
        ("  enabled: true\n  max_rounds: 0\n", "verification.max_rounds", "greater than or equal to 1", 7),
        ("  max_usd: -1\n", "verification.max_usd", "greater than or equal to 0", 6),
        ("  judge_timeout: 5\n", "verification.judge_timeout", "unknown key", 6),
    ],
)
def test_bad_verification_settings_are_reported_with_path_and_line(section, path, text, line):
    with pytest.raises(ConfigError) as info:
        parse_config(EXPERTS + section, source="experts.yaml")
    found = [p for p in info.value.problems if p.path == path and text in p.message]
    assert found, [str(p) for p in info.value.problems]
    assert found[0].line == line


def test_judge_role_suffices_without_naming_a_judge():
    config = parse_config(EXPERTS + "  enabled: true\n  mode: consultancy\n  max_cost_ratio: 2\n")
    assert (config.verification.judge, config.verification.mode, config.verification.max_cost_ratio) == (None, "consultancy", 2)
