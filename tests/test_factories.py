"""Backend options from pipeline files and CLI flags become the backends' config objects (``factories.py``)."""

from __future__ import annotations

import pytest

from ctakes_llm.backends.http_retry import RetryPolicy
from ctakes_llm.backends.openai_server import OpenAiConfig
from ctakes_llm.errors import ConfigError
from ctakes_llm.factories import backend_config

SERVER = {"base_url": "http://127.0.0.1:9/v1"}


def test_backend_config_turns_a_retry_object_into_a_retry_policy() -> None:
    retry = {"max_retries": 0, "backoff_s": 0.25}
    config = backend_config("openai", SERVER | {"retry": retry})
    assert isinstance(config, OpenAiConfig)
    assert config.retry == RetryPolicy(max_retries=0, backoff_s=0.25)


def test_backend_config_keeps_a_retry_policy_and_the_default() -> None:
    policy = RetryPolicy(max_retries=5)
    with_policy = backend_config("openai", SERVER | {"retry": policy})
    without = backend_config("openai", dict(SERVER))
    assert isinstance(with_policy, OpenAiConfig) and isinstance(without, OpenAiConfig)
    assert with_policy.retry is policy
    assert without.retry == RetryPolicy()


@pytest.mark.parametrize(
    ("retry", "named"),
    [({"max_retries": 1, "max_tries": 2}, "'max_tries'"), (3, "not 3"), ([1, 0.5], "not [1, 0.5]")],
)
def test_backend_config_refuses_a_retry_that_is_no_policy(retry: object, named: str) -> None:
    with pytest.raises(ConfigError, match="E419") as raised:
        backend_config("openai", SERVER | {"retry": retry})
    assert named in str(raised.value) and "max_retries" in str(raised.value)


def test_backend_config_retry_values_are_checked_by_the_policy() -> None:
    with pytest.raises(ConfigError, match="E238"):
        backend_config("openai", SERVER | {"retry": {"max_retries": -1}})


def test_backend_config_retry_is_unknown_to_the_causal_backend() -> None:
    with pytest.raises(ConfigError, match="E414"):
        backend_config("causal", {"retry": {"max_retries": 0}})
