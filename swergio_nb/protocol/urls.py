"""Hub URLs and their tokens: add one, take one out, hide one (for printing), hide every one in a text (logs);
whether a host is loopback."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

__all__ = ["with_token", "split_token", "redact", "redact_text", "RedactTokens", "is_loopback"]

#: A token in a URL's query, as printed in a log line or a component's output (``?token=...`` / ``&token=...``).
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&#\s'\"<>]+")


def with_token(url: str, token: str | None) -> str:
    """``url`` with ``?token=`` added, unless it already carries a token or there is none to add."""
    parts = urlsplit(url)
    if not token or "token" in parse_qs(parts.query):
        return url
    query = f"{parts.query}&{urlencode({'token': token})}" if parts.query else urlencode({"token": token})
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def split_token(url: str) -> tuple[str, str | None]:
    """``(url without its token, the token or None)``: to hand a token over by environment, not on a command line."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    tokens = query.pop("token", None)
    if not tokens:
        return url, None
    rest = urlencode(query, doseq=True)
    path = "" if parts.path == "/" and not rest else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, rest, parts.fragment)), tokens[0]


def redact(url: str) -> str:
    """``url`` with its token shown as ``...`` (for notebook output, which gets shared)."""
    base, token = split_token(url)
    return with_token(base, "...") if token else url


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` (a log line, a component's output) with every URL's token and every one of ``secrets`` (the token
    values it might print bare) shown as ``...``."""
    text = _TOKEN_IN_URL.sub(r"\1...", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "...")
    return text


class RedactTokens(logging.Filter):
    """A logging filter that shows every URL's token in a record as ``...`` (websockets logs each handshake's
    request line, ``GET /?token=...``, at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = redact_text(message), None
        return True


def is_loopback(host: str) -> bool:
    """True if ``host`` is ``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``): only this machine reaches
    a socket bound to it."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
