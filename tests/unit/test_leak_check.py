"""The log leak check used by the SMTP tests: the whole sample value, not a prefix of it
("4111" inside a random port such as 41117 made tests/smtp/test_failures.py flaky)."""

from __future__ import annotations

from tests.smtp.helpers import CARD, contains_value


def test_a_port_that_starts_like_the_card_is_not_a_leak() -> None:
    assert not contains_value('{"peer": "127.0.0.1:41117", "port": 41110}', CARD)
    assert not contains_value("masked **** **** **** 1111", CARD)


def test_the_card_in_any_spacing_is_a_leak() -> None:
    for written in (
        "4111 1111 1111 1111",
        "4111111111111111",
        "4111-1111-1111-1111",
        "x=4111.1111.1111.1111;",
    ):
        assert contains_value(f"error: {written}", CARD), written
