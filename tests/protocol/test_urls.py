from __future__ import annotations

import pytest

from swergio_nb.protocol.urls import redact, split_token, with_token


@pytest.mark.parametrize(
    ("url", "token", "expected"),
    [
        ("ws://h:1", "abc", "ws://h:1/?token=abc"),
        ("ws://h:1/", "a b", "ws://h:1/?token=a+b"),
        ("ws://h:1/x?k=v", "t", "ws://h:1/x?k=v&token=t"),
        ("ws://h:1/?token=old", "new", "ws://h:1/?token=old"),  # the URL's own token wins
        ("ws://h:1", None, "ws://h:1"),
        ("ws://h:1", "", "ws://h:1"),
    ],
)
def test_with_token(url, token, expected):
    assert with_token(url, token) == expected


def test_split_and_redact_round_trip():
    url = with_token("ws://127.0.0.1:8765", "s3cret")
    assert split_token(url) == ("ws://127.0.0.1:8765", "s3cret")
    assert split_token("ws://h:1/x?k=v&token=t") == ("ws://h:1/x?k=v", "t")
    assert split_token("ws://h:1") == ("ws://h:1", None)
    assert "s3cret" not in redact(url) and redact(url) == "ws://127.0.0.1:8765/?token=..."
    assert with_token(*split_token(url)) == url
