"""HTTP requests with retries and exponential backoff, for backends that call a model server.

Retried: timeouts, connection errors, HTTP 408, 429 and every 5xx. Other answers (success, 4xx) go back to the
caller at once. The wait before retry ``n`` (from 0) is ``backoff_s * 2**n`` capped at ``max_backoff_s``; a
numeric ``Retry-After`` header on a 429/503 answer raises the wait to what the server asks (within the cap).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ctakes_llm.errors import BackendError, ConfigError

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes:
        max_retries: retries after the first attempt (0: try once).
        backoff_s: the wait before the first retry, doubled for each further one.
        max_backoff_s: the longest single wait.
    """

    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise ConfigError(
                f"[E238] retry policy max_retries={self.max_retries}, backoff_s={self.backoff_s}, "
                f"max_backoff_s={self.max_backoff_s}: retries and waits must be >= 0 and max_backoff_s >= backoff_s"
            )

    def delay_s(self, retry: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (from 0)."""
        delay = float(self.backoff_s * 2**retry)
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        return min(delay, self.max_backoff_s)


def should_retry(response: httpx.Response) -> bool:
    """True for answers worth retrying: 408, 429 and 5xx."""
    return response.status_code in RETRY_STATUS or response.status_code >= 500


def post_json(
    client: httpx.Client,
    url: str,
    body: Mapping[str, Any],
    policy: RetryPolicy,
    on_retry: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """POST ``body`` as JSON, retrying transient failures.

    Args:
        client: the HTTP client (its timeouts apply to each attempt).
        url: the endpoint.
        body: the JSON body.
        policy: retries and backoff.
        on_retry: called with the reason before each retry (to count retries).
        sleep: the wait function.

    Returns:
        The first answer that is not retried (2xx or a 4xx other than 408/429).

    Raises:
        BackendError: every attempt failed transiently; the message gives the last reason.
    """
    reason = ""
    for attempt in range(policy.max_retries + 1):
        retry_after = None
        try:
            response = client.post(url, json=dict(body))
        except httpx.TimeoutException as err:
            reason = f"timed out ({type(err).__name__})"
        except httpx.TransportError as err:
            reason = f"connection failed ({err})"
        else:
            if not should_retry(response):
                return response
            reason = f"HTTP {response.status_code}: {response.text[:200]}"
            retry_after = response.headers.get("retry-after")
        if attempt == policy.max_retries:
            break
        delay = policy.delay_s(attempt, retry_after)
        logger.info("[E239] %s %s; retry %d of %d in %.1f s", url, reason, attempt + 1, policy.max_retries, delay)
        if on_retry is not None:
            on_retry(reason)
        sleep(delay)
    raise BackendError(
        f"[E240] {url} failed {policy.max_retries + 1} times; last: {reason}. Check that the server is up and "
        "not overloaded, or raise timeout_s / max_retries."
    )
