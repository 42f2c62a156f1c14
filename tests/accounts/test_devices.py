"""Device cookies: signed, bound to one account, useless when altered."""

from __future__ import annotations

from servelab.accounts.devices import issue_device_cookie, known_device

SECRET = "s" * 40


def test_a_device_cookie_is_known_for_its_account_only() -> None:
    cookie = issue_device_cookie(SECRET, account="ada@example.org")
    device = known_device(SECRET, cookie, account="ada@example.org")
    assert device is not None and len(device) == 32
    assert known_device(SECRET, cookie, account="bob@example.org") is None
    assert "ada@example.org" not in cookie  # the account appears only as a digest


def test_every_browser_gets_its_own_id() -> None:
    first = issue_device_cookie(SECRET, account="ada@example.org")
    second = issue_device_cookie(SECRET, account="ada@example.org")
    assert known_device(SECRET, first, account="ada@example.org") != known_device(
        SECRET, second, account="ada@example.org"
    )


def test_a_forged_or_altered_cookie_is_unknown() -> None:
    cookie = issue_device_cookie(SECRET, account="ada@example.org")
    value, _, mac = cookie.rpartition(".")
    altered = value[:-1] + ("0" if value[-1] != "0" else "1") + "." + mac
    assert known_device(SECRET, altered, account="ada@example.org") is None
    assert known_device("another secret key", cookie, account="ada@example.org") is None
    for junk in ("", "v1:abc:def", "x" * 5000, cookie + "x", None):
        assert known_device(SECRET, junk, account="ada@example.org") is None
