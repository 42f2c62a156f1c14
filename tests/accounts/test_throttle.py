"""Failed-login throttling: the counters, the three windows (each in memory and in a real
Redis), and a real server that keeps an attacker's failures from locking the owner out from
another address."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlmodel import Session

from live_server import live_server
from servelab.accounts import users as accounts
from servelab.accounts.throttle import (
    CounterFactory,
    LoginAttempt,
    LoginThrottle,
    PauseReason,
    SlidingWindowCounter,
    WindowCounter,
)
from servelab.db.engine import make_engine
from servelab.settings import Settings
from servelab.web.redis_limits import RedisWindowCounter, redis_counters
from support import PASSWORD, FakeClock, csrf_from

OWNER = "owner@example.org"


@pytest.fixture
def store(limits_store: redis.Redis | None) -> redis.Redis | None:
    """Where the windows are counted (tests/conftest.py `limits_store`)."""
    return limits_store


def _counter(store: redis.Redis | None, clock: FakeClock, *, limit: int) -> WindowCounter:
    if store is None:
        return SlidingWindowCounter(limit=limit, window_seconds=60, clock=clock)
    return RedisWindowCounter(store, name="test", limit=limit, window_seconds=60, clock=clock)


def _counters(store: redis.Redis | None, clock: FakeClock) -> CounterFactory | None:
    return None if store is None else redis_counters(store, clock)


def test_a_counter_pauses_after_the_limit_and_recovers_after_the_window(
    store: redis.Redis | None,
) -> None:
    clock = FakeClock()
    counter = _counter(store, clock, limit=3)
    for _ in range(3):
        assert counter.retry_after("a") is None
        counter.add("a")
        clock.now += 1
    assert counter.retry_after("a") == 58  # first failure at 1000, now 1003
    assert counter.retry_after("b") is None  # other keys are unaffected
    clock.now += 58
    assert counter.retry_after("a") is None
    counter.add("a")
    counter.clear("a")
    assert counter.retry_after("a") is None


@pytest.mark.redis
def test_a_counter_in_redis_keeps_only_what_changes_the_answer(redis_db: str) -> None:
    """Each key holds at most `limit` stamps and expires with its window: guesses at
    unique emails cannot fill Redis, and the stored keys name no email."""
    store = redis.Redis.from_url(redis_db)
    counter = RedisWindowCounter(store, name="pair", limit=3, window_seconds=60, clock=FakeClock())
    for _ in range(10):
        counter.add("someone@example.org")
    (key,) = store.keys("*")
    assert b"someone" not in key and store.zcard(key) == 3
    assert 0 < store.pttl(key) <= 60_000
    store.close()


def test_a_counter_holds_a_bounded_number_of_keys() -> None:
    counter = SlidingWindowCounter(limit=2, window_seconds=60, clock=FakeClock(), max_keys=3)
    for n in range(10):
        counter.add(f"guess-{n}@example.org")
    assert len(counter) == 3
    counter.retry_after("never-failed")  # looking does not add a key
    assert len(counter) == 3


def _throttle(clock: FakeClock, store: redis.Redis | None) -> LoginThrottle:
    return LoginThrottle(
        max_failures=3,
        max_failures_per_address=5,
        max_failures_per_account=4,
        window_seconds=900,
        clock=clock,
        counters=_counters(store, clock),
    )


def test_failures_from_one_address_do_not_pause_another(store: redis.Redis | None) -> None:
    throttle = _throttle(FakeClock(), store)
    attacker = LoginAttempt(account=OWNER, address="203.0.113.9")
    for _ in range(3):
        throttle.failed(attacker)
    pause = throttle.pause(attacker)
    assert pause is not None and pause.reason == PauseReason.PAIR
    assert throttle.pause(LoginAttempt(account=OWNER, address="198.51.100.7")) is None


def test_one_address_guessing_at_many_accounts_is_paused(store: redis.Redis | None) -> None:
    throttle = _throttle(FakeClock(), store)
    for n in range(5):
        throttle.failed(LoginAttempt(account=f"user{n}@example.org", address="203.0.113.9"))
    pause = throttle.pause(LoginAttempt(account="next@example.org", address="203.0.113.9"))
    assert pause is not None and pause.reason == PauseReason.ADDRESS
    assert throttle.pause(LoginAttempt(account="next@example.org", address="198.51.100.7")) is None


def test_many_addresses_guessing_at_one_account_pause_only_unknown_browsers(
    store: redis.Redis | None,
) -> None:
    throttle = _throttle(FakeClock(), store)
    for n in range(4):
        throttle.failed(LoginAttempt(account=OWNER, address=f"203.0.113.{n}"))
    pause = throttle.pause(LoginAttempt(account=OWNER, address="198.51.100.7"))
    assert pause is not None and pause.reason == PauseReason.ACCOUNT
    owner = LoginAttempt(account=OWNER, address="198.51.100.7", device="owners-laptop")
    assert throttle.pause(owner) is None


def test_a_known_browser_counts_its_own_failures(store: redis.Redis | None) -> None:
    throttle = _throttle(FakeClock(), store)
    laptop = LoginAttempt(account=OWNER, address="198.51.100.7", device="laptop")
    for _ in range(3):
        throttle.failed(laptop)
    pause = throttle.pause(laptop)
    assert pause is not None and pause.reason == PauseReason.DEVICE
    phone = LoginAttempt(account=OWNER, address="198.51.100.7", device="phone")
    assert throttle.pause(phone) is None
    assert throttle.pause(LoginAttempt(account=OWNER, address="198.51.100.7")) is None


def test_a_success_clears_only_its_own_count(store: redis.Redis | None) -> None:
    throttle = _throttle(FakeClock(), store)
    attempt = LoginAttempt(account=OWNER, address="198.51.100.7")
    for _ in range(2):
        throttle.failed(attempt)
    throttle.succeeded(attempt)
    throttle.failed(attempt)
    throttle.failed(attempt)
    # Two failures since the success (under the pair's 3), but the account-wide window
    # kept all four: one success does not reset an attack on the account.
    pause = throttle.pause(attempt)
    assert pause is not None and pause.reason == PauseReason.ACCOUNT


def _login(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(client)},
        follow_redirects=False,
    )


def test_the_login_form_refuses_even_the_right_password_while_paused(
    migrated: Settings, make_user
) -> None:  # type: ignore[no-untyped-def]
    from servelab.web.app import create_app

    app = create_app(migrated)
    clock = FakeClock()
    app.state.login_throttle = LoginThrottle(
        max_failures=3,
        max_failures_per_address=100,
        max_failures_per_account=50,
        window_seconds=900,
        clock=clock,
    )
    user = make_user()
    with TestClient(app) as client:
        for _ in range(3):
            assert _login(client, user.email, "wrong password!").status_code == 400
        paused = _login(client, user.email.upper(), PASSWORD)  # same account, other spelling
        assert paused.status_code == 429
        assert "Too many failed logins to this account from your address" in paused.text
        assert int(paused.headers["retry-after"]) > 0
        # The owner, from another address, is not locked out.
        with TestClient(app, client=("198.51.100.7", 50000)) as elsewhere:
            assert _login(elsewhere, user.email, PASSWORD).status_code == 303
        clock.now += 901
        assert _login(client, user.email, PASSWORD).status_code == 303


def test_a_login_is_refused_with_503_when_the_shared_store_does_not_answer(
    tmp_path: Path,
) -> None:
    """Redis down: no guess goes uncounted, and the person gets a message, not a 500."""
    from live_server import free_port
    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(environment="test", var_dir=tmp_path / "shared", redis_url=dead)
    assert settings.limits_backend == "redis"  # setting SERVELAB_REDIS_URL shares the limits
    upgrade(settings)
    with TestClient(create_app(settings)) as client:
        refused = _login(client, OWNER, PASSWORD)
    assert refused.status_code == 503
    assert "cannot check login attempts right now" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "30"


# --- the lockout from another address, on a real server --------------------------------------


def _form_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )


@pytest.mark.slow
def test_an_attacker_elsewhere_does_not_lock_the_owner_out(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"SERVELAB_LOGIN_MAX_FAILURES": "3", "SERVELAB_LOGIN_MAX_FAILURES_PER_ACCOUNT": "6"}
    with live_server(settings, tmp_path, **env) as server:
        engine = make_engine(settings)
        with Session(engine) as db:
            accounts.create_user(db, email=OWNER, password=PASSWORD)
        engine.dispose()

        # One attacker at 127.0.0.2: three wrong passwords, then that address is paused.
        with server.client(source="127.0.0.2") as attacker:
            codes = [_form_login(attacker, OWNER, f"guess {n}!").status_code for n in range(5)]
            paused = _form_login(attacker, OWNER, PASSWORD)
        print(f"\nattacker at 127.0.0.2: {codes}, then the right password: {paused.status_code}")
        assert codes == [400, 400, 400, 429, 429]
        assert paused.status_code == 429 and "from your address" in paused.text

        # The owner at 127.0.0.3, in a browser never used before: logs in.
        owner = server.client(source="127.0.0.3")
        r = _form_login(owner, OWNER, PASSWORD)
        print(f"the owner at 127.0.0.3, a browser never used before: {r.status_code}")
        assert r.status_code == 303 and "servelab_device" in owner.cookies

        # A distributed attack: one guess from each of many addresses pauses the account
        # for browsers it has not seen ...
        distributed = []
        for n in range(4, 12):
            with server.client(source=f"127.0.0.{n}") as bot:
                distributed.append(_form_login(bot, OWNER, f"guess {n}!").status_code)
        with server.client(source="127.0.0.30") as newcomer:
            refused = _form_login(newcomer, OWNER, PASSWORD)
        print(f"distributed guesses: {distributed}; a new browser: {refused.status_code}")
        assert distributed.count(400) == 3 and distributed[-1] == 429  # 3 + 3 = 6 failures
        assert refused.status_code == 429 and "browsers it has not" in refused.text

        # ... but the owner's browser, which logged in before, still gets in from anywhere.
        owner.close()
        with server.client(source="127.0.0.31") as travelling:
            travelling.cookies.set("servelab_device", owner.cookies["servelab_device"])
            back = _form_login(travelling, OWNER, PASSWORD)
        print(f"the owner's known browser at 127.0.0.31: {back.status_code}")
        assert back.status_code == 303
