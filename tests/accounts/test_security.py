"""Password hashing: a bounded number of Argon2 hashes at once, a bounded wait for one,
and a real server that answers 30 concurrent logins without a gigabyte of memory."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from live_server import PeakMemory, live_server
from servelab.accounts.security import (
    PasswordHashingBusy,
    hash_password,
    hash_slots,
    sign,
    unsign,
    verify_password,
)
from servelab.settings import Settings

ARGON2_MIB = 64  # argon2-cffi's default memory cost per hash


@pytest.fixture
def one_slot() -> Iterator[None]:
    before = (hash_slots.slots, hash_slots.wait_seconds)
    hash_slots.configure(slots=1, wait_seconds=0.2)
    yield
    hash_slots.configure(slots=before[0], wait_seconds=before[1])


def test_a_hash_waits_for_a_slot_then_gives_up(one_slot: None) -> None:
    outcome: list[object] = []
    with hash_slots.slot():  # every slot taken
        worker = threading.Thread(target=lambda: outcome.append(_try_hash()))
        started = time.monotonic()
        worker.start()
        worker.join(timeout=10)
        waited = time.monotonic() - started
    assert outcome and isinstance(outcome[0], PasswordHashingBusy), outcome
    assert waited >= 0.2
    stored = hash_password("correct horse battery")  # free again
    assert verify_password(stored, "correct horse battery")


def _try_hash() -> object:
    try:
        return hash_password("correct horse battery")
    except PasswordHashingBusy as exc:
        return exc


def test_signed_values_reject_any_change() -> None:
    signed = sign("k" * 40, "v1:abc")
    assert unsign("k" * 40, signed) == "v1:abc"
    assert unsign("k" * 40, signed.replace("abc", "abd")) is None
    assert unsign("other key", signed) is None
    assert unsign("k" * 40, "no-mac") is None


# --- a real server under concurrent logins ---------------------------------------------------


def _wrong_login(base_url: str, n: int) -> tuple[httpx.Response, float]:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        started = time.perf_counter()
        r = client.post(
            "/login",
            data={
                "email": f"nobody{n}@example.org",
                "password": "not the password",
                "csrf_token": token.group(1),
            },
        )
        return r, time.perf_counter() - started


def _burst(base_url: str, count: int) -> list[tuple[httpx.Response, float]]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda n: _wrong_login(base_url, n), range(count)))


@pytest.mark.slow
def test_30_concurrent_wrong_logins_are_all_answered_with_bounded_memory(
    settings: Settings, tmp_path: Path
) -> None:
    slots = 2
    env = {"SERVELAB_PASSWORD_HASH_SLOTS": str(slots), "SERVELAB_PASSWORD_HASH_WAIT_SECONDS": "60"}
    with live_server(settings, tmp_path, **env) as server:
        _burst(server.base_url, 2)  # warm up: first hashes, templates, pools
        with PeakMemory(server) as memory:
            results = _burst(server.base_url, 30)
        alive = httpx.get(f"{server.base_url}/healthz", timeout=10).status_code
    codes = Counter(r.status_code for r, _ in results)
    seconds = sorted(t for _, t in results)
    print(
        f"\n30 concurrent wrong logins, {slots} hash slots: {dict(codes)}; "
        f"latency p50 {statistics.median(seconds):.2f} s, max {seconds[-1]:.2f} s; "
        f"server RSS {memory.before_mib:.0f} -> peak {memory.peak_mib:.0f} MiB "
        f"(growth {memory.growth_mib:.0f} MiB; unbounded would be ~{30 * ARGON2_MIB} MiB)"
    )
    assert codes == {400: 30}  # every one answered: wrong password, none dropped
    assert alive == 200
    assert memory.growth_mib < ARGON2_MIB * (slots + 3), "hash memory was not bounded"


@pytest.mark.slow
def test_a_login_that_waits_too_long_for_a_slot_gets_503(
    settings: Settings, tmp_path: Path
) -> None:
    env = {"SERVELAB_PASSWORD_HASH_SLOTS": "1", "SERVELAB_PASSWORD_HASH_WAIT_SECONDS": "0.05"}
    with live_server(settings, tmp_path, **env) as server:
        results = _burst(server.base_url, 20)
    codes = Counter(r.status_code for r, _ in results)
    print(f"\n20 concurrent wrong logins, 1 hash slot, 0.05 s wait: {dict(codes)}")
    assert set(codes) == {400, 503}
    busy = [r for r, _ in results if r.status_code == 503]
    assert all(r.headers["retry-after"] == "5" for r in busy)
    assert "busy checking other passwords" in busy[0].text
