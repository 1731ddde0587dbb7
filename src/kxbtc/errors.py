"""One error hierarchy for kxbtc.

Every exchange rejection carries the exchange's own ``code`` (``error.code`` on Kalshi) and the
HTTP status. Errors are split into retryable (network, 429, 5xx: the same request may succeed later)
and not (a rejected order or bad input: retrying cannot help).
"""

from __future__ import annotations


class KxbtcError(Exception):
    """Base of every error kxbtc raises on purpose."""


class ConfigError(KxbtcError):
    """Bad configuration or command-line input; reported at start with exit code 2."""


class KeyFileError(ConfigError):
    """A private-key file is missing, unreadable, not a private key, or too widely readable."""


class ClockSkewError(KxbtcError):
    """The local clock is too far from true time to sign requests the exchange would accept."""


class ExchangeError(KxbtcError):
    """The exchange answered with an error. ``code`` is the exchange's own error code."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        status: int = 0,
        details: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        where = f" [{method} {path}]" if method else ""
        text = f"{status} {code}: {message}" if status else f"{code}: {message}"
        if details:
            text += f" ({details})"
        super().__init__(text + where)
        self.message = message
        self.code = code
        self.status = status
        self.details = details
        self.method = method
        self.path = path


class RetryableError(ExchangeError):
    retryable = True


class NetworkError(RetryableError):
    """Connection failed, reset or timed out before an answer arrived."""


class RateLimitedError(RetryableError):
    """HTTP 429."""


class ServerError(RetryableError):
    """HTTP 5xx."""


class RejectedError(ExchangeError):
    """A 4xx rejection other than auth: bad request, invalid price, insufficient balance..."""


class SendDeadlineError(ExchangeError):
    """Not sent: an attempt would have left after the request's deadline (an opening order retried into
    the final-minute freeze). The request never reached the exchange on this attempt; an earlier attempt
    with an unknown outcome is reported as that attempt's error instead."""


class AuthError(ExchangeError):
    """HTTP 401/403: bad key, bad signature or expired timestamp."""


class NotFoundError(RejectedError):
    """HTTP 404: unknown market, or cancel of an unknown, canceled or executed order."""


class ConflictError(RejectedError):
    """HTTP 409, e.g. ``order_already_exists`` for a reused client_order_id."""


class ProtocolError(KxbtcError):
    """A message from the exchange could not be decoded or violates the protocol."""


class BookError(ProtocolError):
    """An order-book update left the book invalid (negative level, crossed book): resync."""


class LlmError(KxbtcError):
    """An LLM call failed or its answer was unusable. The message never contains an API key."""

    retryable: bool = False

    def __init__(self, message: str, *, provider: str = "", model: str = "", status: int = 0) -> None:
        where = f"{provider}/{model}: " if provider else ""
        super().__init__(f"{where}{status} {message}" if status else f"{where}{message}")
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status


class LlmUnavailableError(LlmError):
    """A failure the same request may not repeat: network, timeout, HTTP 408/429/5xx."""

    retryable = True


class LlmTimeoutError(LlmUnavailableError):
    """No answer within the configured timeout."""


class LlmRejectedError(LlmError):
    """The provider refused the request (HTTP 4xx other than 408/429): bad model name, bad parameters."""


class LlmAuthError(LlmRejectedError):
    """Missing API key, or HTTP 401/403."""


class LlmOutputError(LlmError):
    """The model answered, but not with the forecast JSON the schema demands."""


class EvidenceError(KxbtcError):
    """A text source for the LLM roles (feed, calendar, X search) could not be fetched or parsed."""

    def __init__(self, message: str, *, source: str = "", status: int = 0) -> None:
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{status} {message}" if status else f"{where}{message}")
        self.source = source
        self.status = status
