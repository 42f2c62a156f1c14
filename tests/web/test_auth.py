"""Accounts over HTTP: sign-up, login, logout, CSRF, roles, API tokens."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from servelab.db.models import ApiToken, Role, User, WebSession
from servelab.web.deps import SESSION_COOKIE
from support import PASSWORD, csrf_from, login


def _signup(client: TestClient, email: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client, "/signup")
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/signup", data=data, follow_redirects=False)


def test_signup_logs_in_with_a_hardened_cookie(client: TestClient, db: Session) -> None:
    r = _signup(client, "Ada@Example.org", display_name="Ada")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    user = db.exec(select(User).where(User.email == "ada@example.org")).one()
    assert user.role == Role.LEARNER and user.password_hash.startswith("$argon2id$")
    page = client.get("/account")
    assert page.status_code == 200 and "ada@example.org" in page.text


def test_signup_duplicate_email_is_refused(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user(email="taken@example.org")
    r = _signup(client, "TAKEN@example.org")
    assert r.status_code == 400
    assert "already exists" in r.text
    assert SESSION_COOKIE not in r.cookies


def test_signup_short_password_is_refused(client: TestClient) -> None:
    r = _signup(client, "short@example.org", password="short")
    assert r.status_code == 400 and "at least 10 characters" in r.text


def test_login_and_logout(client: TestClient, make_user, db: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    assert client.get("/account", follow_redirects=False).status_code == 200
    assert db.exec(select(WebSession).where(WebSession.user_id == user.id)).first() is not None

    token = csrf_from(client, "/account")
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"]
    db.expire_all()
    assert db.exec(select(WebSession).where(WebSession.user_id == user.id)).first() is None
    r = client.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"


def test_wrong_password_is_refused(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    token = csrf_from(client)
    r = client.post(
        "/login",
        data={"email": user.email, "password": "not the password", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "not right" in r.text
    assert SESSION_COOKIE not in r.cookies


def test_login_redirects_only_to_local_paths(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    for target, expected in (
        ("/lessons/fastapi-for-ml-apis", "/lessons/fastapi-for-ml-apis"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        token = csrf_from(client)
        r = client.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected, target


def test_posts_without_csrf_token_are_refused(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    client.get("/login")  # receive the CSRF cookie, but do not send the form token
    r = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 403
    r = client.post(
        "/signup", data={"email": "x@example.org", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403
    login(client, user)
    r = client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/account", follow_redirects=False).status_code == 200  # still logged in


def test_learner_gets_403_on_instructor_page(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = client.get("/instructor/users", headers={"accept": "text/html"})
    assert r.status_code == 403
    assert "instructors only" in r.text
    token = csrf_from(client, "/account")
    r = client.post(
        "/instructor/users",
        data={
            "email": "new@example.org",
            "password": PASSWORD,
            "role": "instructor",
            "csrf_token": token,
        },
    )
    assert r.status_code == 403


def test_instructor_creates_an_instructor(client: TestClient, make_user, db: Session) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.INSTRUCTOR))
    page = client.get("/instructor/users")
    assert page.status_code == 200
    token = csrf_from(client, "/instructor/users")
    r = client.post(
        "/instructor/users",
        data={
            "email": "colleague@example.org",
            "password": PASSWORD,
            "role": "instructor",
            "csrf_token": token,
        },
    )
    assert r.status_code == 200 and "Created instructor account colleague@example.org" in r.text
    created = db.exec(select(User).where(User.email == "colleague@example.org")).one()
    assert created.is_instructor
    r = client.post(
        "/instructor/users",
        data={"email": "x@example.org", "password": PASSWORD, "role": "admin", "csrf_token": token},
    )
    assert r.status_code == 400 and "valid role" in r.text


def test_api_token_authenticates_bearer_requests(
    client: TestClient, make_user, db: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    token_form = csrf_from(client, "/account")
    r = client.post("/account/tokens", data={"name": "laptop", "csrf_token": token_form})
    assert r.status_code == 200
    raw = r.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert raw.startswith("slb_")
    row = db.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert row.token_hash != raw and raw not in row.token_hash  # stored hashed
    assert raw not in client.get("/account").text  # shown once

    anonymous = TestClient(client.app)
    me = anonymous.get("/api/v1/me", headers={"authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.json()["email"] == user.email
    assert anonymous.get("/api/v1/me").status_code == 401
    bad = anonymous.get("/api/v1/me", headers={"authorization": "Bearer slb_wrong"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    # Bearer requests carry no cookie, so they need no CSRF token.
    r = anonymous.post(
        "/account/tokens", data={"name": "ci"}, headers={"authorization": f"Bearer {raw}"}
    )
    assert r.status_code == 200


def test_token_of_another_user_cannot_be_revoked(
    client: TestClient, make_user, db: Session
) -> None:  # type: ignore[no-untyped-def]
    from servelab.accounts import users as accounts

    owner, intruder = make_user(), make_user()
    accounts.create_api_token(db, user=owner, name="owner's")
    token_id = db.exec(select(ApiToken.id).where(ApiToken.user_id == owner.id)).one()
    login(client, intruder)
    token = csrf_from(client, "/account")
    r = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert r.status_code == 404
    assert db.get(ApiToken, token_id) is not None


def test_secure_cookie_behind_https(migrated) -> None:  # type: ignore[no-untyped-def]
    from servelab.web.app import create_app

    app = create_app(migrated.model_copy(update={"https": True}))
    with TestClient(app, base_url="https://testserver") as client:
        r = _signup(client, "secure@example.org")
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"]
