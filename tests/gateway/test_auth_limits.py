import pytest

from orchestrator.errors import ConfigError
from services.gateway.auth import hash_key, load_api_keys
from services.gateway.ratelimit import RateLimiter

from .fakes import make_config


def test_api_keys_come_from_env_and_file_and_are_stored_hashed(tmp_path):
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# team keys\nsk-file-plain\nsha256:{hash_key('sk-prehashed')}  # ci\n\n")
    config = make_config(api_keys_env="GW_KEYS", api_keys_file=str(key_file))
    keys = load_api_keys(config, {"GW_KEYS": "sk-env-1, sk-env-2"})
    assert len(keys.hashes) == 4
    assert "sk-env-1" not in keys.hashes
    for key in ("sk-env-1", "sk-env-2", "sk-file-plain", "sk-prehashed"):
        assert keys.identify(key) == hash_key(key)
    assert keys.identify("sk-nope") is None


def test_no_configured_keys_disables_auth():
    assert not load_api_keys(make_config(api_keys_env="GW_KEYS"), {}).enabled


def test_malformed_hash_in_key_file_is_a_config_error(tmp_path):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("sha256:not-hex\n")
    with pytest.raises(ConfigError, match="malformed sha256 hash"):
        load_api_keys(make_config(api_keys_file=str(key_file)), {})


def test_rate_limiter_refills_at_rpm_over_time():
    now = [0.0]
    limiter = RateLimiter(rpm=60, clock=lambda: now[0])
    assert all(limiter.acquire("k") == 0.0 for _ in range(60))
    assert limiter.acquire("k") == pytest.approx(1.0)  # one token a second
    now[0] += 0.5
    assert limiter.acquire("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("other") == 0.0  # buckets are per key
