"""Failed-login throttling: the unit, and the login form that uses it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from servelab.accounts.throttle import LoginThrottle
from support import PASSWORD, csrf_from


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pauses_after_the_limit_and_recovers_after_the_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("a@example.org") is None
        throttle.failed("a@example.org")
        clock.now += 1
    assert throttle.retry_after("a@example.org") == 58  # first failure at 1000, now 1003
    assert throttle.retry_after("b@example.org") is None  # other accounts are unaffected
    clock.now += 58
    assert throttle.retry_after("a@example.org") is None


def test_a_successful_login_clears_the_count() -> None:
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=FakeClock())
    throttle.failed("a@example.org")
    throttle.succeeded("a@example.org")
    throttle.failed("a@example.org")
    assert throttle.retry_after("a@example.org") is None


def _login(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(client)},
        follow_redirects=False,
    )


def test_login_form_refuses_even_the_right_password_while_paused(app, client, make_user) -> None:
    clock = FakeClock()
    app.state.login_throttle = LoginThrottle(max_failures=3, window_seconds=900, clock=clock)
    user = make_user()
    for _ in range(3):
        assert _login(client, user.email, "wrong password!").status_code == 400
    paused = _login(client, user.email.upper(), PASSWORD)  # same account, other spelling
    assert paused.status_code == 429
    assert "Too many failed logins" in paused.text
    assert int(paused.headers["retry-after"]) > 0
    clock.now += 901
    assert _login(client, user.email, PASSWORD).status_code == 303
