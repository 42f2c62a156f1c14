"""Sessions: the CSRF token belongs to the login (new at every login), and a password
change ends every other login and revokes every API token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from servelab.accounts import users as accounts
from servelab.db.models import ApiToken, User, WebSession
from servelab.web.deps import CSRF_COOKIE, SESSION_COOKIE
from support import PASSWORD, csrf_from, login

NEW_PASSWORD = "a brand new passphrase"


def _create_token(client: TestClient, csrf: str) -> int:
    return client.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf}).status_code


def test_a_token_from_before_login_stops_working_at_login(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    before = csrf_from(client, "/login")
    cookie_before = client.cookies[CSRF_COOKIE]
    assert before == cookie_before  # anonymous forms: double-submit cookie
    r = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": before},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.cookies[CSRF_COOKIE] != cookie_before  # the anonymous cookie rotated too
    assert _create_token(client, before) == 403
    after = csrf_from(client, "/account")
    assert after != before
    assert _create_token(client, after) == 200


def test_the_page_token_is_the_logins_own(client: TestClient, make_user, db: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    token = csrf_from(client, "/account")
    row = db.exec(select(WebSession).where(WebSession.user_id == user.id)).one()
    assert row.csrf_token == token
    # The anonymous cookie is no substitute once logged in.
    assert _create_token(client, client.cookies[CSRF_COOKIE]) == 403


def test_another_logins_token_is_refused(app, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    laptop, phone = TestClient(app), TestClient(app)
    login(laptop, user)
    login(phone, user)
    laptop_token, phone_token = csrf_from(laptop, "/account"), csrf_from(phone, "/account")
    assert laptop_token != phone_token
    assert _create_token(phone, laptop_token) == 403
    assert _create_token(phone, phone_token) == 200


def test_a_new_login_gets_a_new_token(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    first = csrf_from(client, "/account")
    assert (
        client.post("/logout", data={"csrf_token": first}, follow_redirects=False).status_code
        == 303
    )
    login(client, user)
    second = csrf_from(client, "/account")
    assert second != first
    assert _create_token(client, first) == 403


# --- changing the password ---------------------------------------------------------------------


def _change(client: TestClient, current: str, new: str, csrf: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf if csrf is not None else csrf_from(client, "/account")
    return client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "csrf_token": token},
    )


def test_a_password_change_ends_other_logins_and_revokes_tokens(
    app, make_user, db: Session
) -> None:  # type: ignore[no-untyped-def]
    user: User = make_user()
    here, elsewhere = TestClient(app), TestClient(app)
    login(here, user)
    login(elsewhere, user)
    api_token = accounts.create_api_token(db, user=user, name="ci")
    bearer = {"authorization": f"Bearer {api_token}"}
    assert TestClient(app).get("/api/v1/me", headers=bearer).status_code == 200
    old_cookie = here.cookies[SESSION_COOKIE]
    old_csrf = csrf_from(here, "/account")

    r = _change(here, PASSWORD, NEW_PASSWORD, csrf=old_csrf)
    assert r.status_code == 200
    assert "Your password is changed. 1 other login ended and 1 API token revoked" in r.text

    # This browser: still logged in, with a new session and a new CSRF token.
    assert here.cookies[SESSION_COOKIE] != old_cookie
    assert here.get("/account", follow_redirects=False).status_code == 200
    new_csrf = csrf_from(here, "/account")
    assert new_csrf != old_csrf
    assert _create_token(here, old_csrf) == 403
    assert _create_token(here, new_csrf) == 200
    # Everyone else: out.
    r = elsewhere.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    stolen = TestClient(app, cookies={SESSION_COOKIE: old_cookie})
    assert stolen.get("/api/v1/me").status_code == 401
    assert TestClient(app).get("/api/v1/me", headers=bearer).status_code == 401
    db.expire_all()
    assert db.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all()[0].name == "laptop"
    assert len(db.exec(select(WebSession).where(WebSession.user_id == user.id)).all()) == 1
    # The new password logs in, the old one does not.
    fresh = TestClient(app)
    token = csrf_from(fresh)
    old = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    assert fresh.post("/login", data=old, follow_redirects=False).status_code == 400
    new = {**old, "password": NEW_PASSWORD}
    assert fresh.post("/login", data=new, follow_redirects=False).status_code == 303


def test_a_wrong_current_password_changes_nothing(app, make_user, db: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    here, elsewhere = TestClient(app), TestClient(app)
    login(here, user)
    login(elsewhere, user)
    accounts.create_api_token(db, user=user)
    r = _change(here, "not my password", NEW_PASSWORD)
    assert r.status_code == 400 and "current password is not right" in r.text
    assert elsewhere.get("/account", follow_redirects=False).status_code == 200
    db.expire_all()
    assert len(db.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all()) == 1
    assert accounts.authenticate(db, email=user.email, password=PASSWORD) is not None


def test_a_password_change_needs_csrf_and_a_valid_new_password(
    client: TestClient, make_user
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    assert _change(client, PASSWORD, NEW_PASSWORD, csrf="forged").status_code == 403
    r = _change(client, PASSWORD, "short")
    assert r.status_code == 400 and "at least 10 characters" in r.text
    r = _change(client, PASSWORD, PASSWORD)
    assert r.status_code == 400 and "differs from the current one" in r.text


def test_guessing_the_current_password_is_throttled(migrated, make_user) -> None:  # type: ignore[no-untyped-def]
    from servelab.web.app import create_app

    app = create_app(migrated.model_copy(update={"login_max_failures": 3}))
    user = make_user()
    client = TestClient(app)
    login(client, user)
    for _ in range(3):
        assert _change(client, "a wrong guess!", NEW_PASSWORD).status_code == 400
    r = _change(client, PASSWORD, NEW_PASSWORD)  # even the right one, while paused
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Too many failed logins" in r.text


def test_an_api_token_cannot_change_the_password(
    client: TestClient, make_user, db: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    bearer = {"authorization": f"Bearer {accounts.create_api_token(db, user=user)}"}
    r = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer,
    )
    assert r.status_code == 403 and "in the browser" in r.json()["detail"]
    assert accounts.authenticate(db, email=user.email, password=PASSWORD) is not None
