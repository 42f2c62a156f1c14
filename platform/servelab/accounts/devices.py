"""Device cookies: a browser that has logged in to an account before is recognised.

After a successful login the browser gets `v1:<account digest>:<random id>`, signed with
the app's secret key. Login throttling (`throttle.py`) counts a recognised browser's
failures on its own, so an attacker elsewhere cannot lock the owner out of the account.
The cookie grants nothing else: it is not a login and carries no secret of the account.
"""

from __future__ import annotations

import secrets

from servelab.accounts.security import constant_time_equals, sign, token_digest, unsign

DEVICE_COOKIE = "servelab_device"
DEVICE_COOKIE_DAYS = 365
_VERSION = "v1"


def _account_digest(account: str) -> str:
    return token_digest(account)[:32]


def issue_device_cookie(secret_key: str, *, account: str) -> str:
    """A new signed device cookie value for the (normalized) account email."""
    return sign(secret_key, f"{_VERSION}:{_account_digest(account)}:{secrets.token_hex(16)}")


def known_device(secret_key: str, cookie: str | None, *, account: str) -> str | None:
    """The browser's device id when `cookie` is a valid device cookie for `account`."""
    if not cookie or len(cookie) > 200:
        return None
    value = unsign(secret_key, cookie)
    if value is None:
        return None
    version, _, rest = value.partition(":")
    digest, _, device_id = rest.partition(":")
    if version != _VERSION or not device_id:
        return None
    if not constant_time_equals(digest, _account_digest(account)):
        return None
    return device_id
