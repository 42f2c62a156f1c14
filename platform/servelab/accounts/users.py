"""Accounts: users, passwords, browser sessions, API tokens; for the web app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from servelab.accounts.security import (
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)
from servelab.db.clock import utcnow
from servelab.db.models import ApiToken, Role, User, WebSession

API_TOKEN_PREFIX = "slb_"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # Argon2 accepts more; nobody types more


class AccountError(ValueError):
    """A request about accounts that cannot be honoured, with a message fit for the person."""


class WrongPassword(AccountError):
    """The current password given to confirm a change is not the account's."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(session: Session, *, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str = "",
    role: Role = Role.LEARNER,
) -> User:
    email = normalize_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 254:
        raise AccountError("Enter a valid email address, like ada@example.org.")
    check_new_password(password)
    if get_user_by_email(session, email=email):
        raise AccountError("An account with this email already exists. Log in instead.")
    session.rollback()  # hold no database connection during the hash (a tenth of a second)
    user = User(
        email=email,
        display_name=(display_name.strip() or email.split("@")[0])[:100],
        password_hash=hash_password(password),
        role=Role(role),
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # the same email signed up meanwhile
        session.rollback()
        raise AccountError("An account with this email already exists. Log in instead.") from None
    session.refresh(user)
    return user


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Choose a password of at most {MAX_PASSWORD_LENGTH} characters.")


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    user = get_user_by_email(session, email=email)
    # Same cost for unknown emails, so response time does not reveal which emails exist.
    stored_hash = user.password_hash if user is not None else _DUMMY_HASH
    session.rollback()  # hold no database connection during the hash (a tenth of a second)
    if not verify_password(stored_hash, password) or user is None:
        return None
    if needs_rehash(stored_hash):
        user.password_hash = hash_password(password)
        session.add(user)
        session.commit()
    return user


_DUMMY_HASH = hash_password("not-a-real-password-0")


def reset_password(session: Session, *, user: User, password: str) -> None:
    """Set a new password; every browser session of the user is logged out."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if verify_password(user.password_hash, password):
        return
    user.password_hash = hash_password(password)
    session.add(user)
    for row in session.exec(select(WebSession).where(WebSession.user_id == user.id)).all():
        session.delete(row)
    session.commit()


@dataclass
class PasswordChanged:
    """What a password change did: the new login's cookie token, and what it ended."""

    token: str
    web_session: WebSession
    sessions_ended: int
    tokens_revoked: int


def change_password(
    session: Session, *, user: User, current: str, new: str, days: int
) -> PasswordChanged:
    """Check the current password, set the new one, end every login and revoke every API token.

    The caller's browser gets a fresh login (returned), so whoever held an old session
    cookie or a token is out, and the person changing the password is not.
    """
    check_new_password(new)
    stored_hash = user.password_hash
    session.rollback()  # no connection held during the two hashes
    if not verify_password(stored_hash, current):
        raise WrongPassword("Your current password is not right. Nothing was changed.")
    if new == current:
        raise AccountError("Choose a new password that differs from the current one.")
    new_hash = hash_password(new)
    user.password_hash = new_hash
    session.add(user)
    sessions = session.exec(select(WebSession).where(WebSession.user_id == user.id)).all()
    tokens = session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    for row in [*sessions, *tokens]:
        session.delete(row)
    session.flush()
    token, web_session = start_web_session(session, user=user, days=days)
    return PasswordChanged(
        token=token,
        web_session=web_session,
        sessions_ended=len(sessions),
        tokens_revoked=len(tokens),
    )


def start_web_session(session: Session, *, user: User, days: int) -> tuple[str, WebSession]:
    """Create a login; returns the raw cookie token (never stored) and the row."""
    token = new_token()
    row = WebSession(
        token_hash=token_digest(token),
        csrf_token=new_token(),
        user_id=user.id,  # type: ignore[arg-type]
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return token, row


def resolve_web_session(session: Session, *, token: str) -> tuple[User, WebSession] | None:
    row = session.exec(
        select(WebSession).where(WebSession.token_hash == token_digest(token))
    ).first()
    if row is None or row.expires_at < utcnow():
        return None
    user = session.get(User, row.user_id)
    return (user, row) if user else None


def end_web_session(session: Session, *, token: str) -> None:
    row = session.exec(
        select(WebSession).where(WebSession.token_hash == token_digest(token))
    ).first()
    if row is not None:
        session.delete(row)
        session.commit()


def create_api_token(session: Session, *, user: User, name: str = "cli") -> str:
    """Issue an API token; the raw value is returned once and only its hash is kept."""
    token = new_token(API_TOKEN_PREFIX)
    session.add(
        ApiToken(
            user_id=user.id,  # type: ignore[arg-type]
            name=name[:100],
            prefix=token[:12],
            token_hash=token_digest(token),
        )
    )
    session.commit()
    return token


def resolve_api_token(session: Session, *, token: str) -> User | None:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).first()
    if row is None:
        return None
    row.last_used_at = utcnow()
    session.add(row)
    session.commit()
    return session.get(User, row.user_id)


def list_api_tokens(session: Session, *, user: User) -> list[ApiToken]:
    """The user's API tokens, oldest first (only prefixes and names: the hashes stay here)."""
    stmt = select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.created_at))
    return list(session.exec(stmt).all())


def revoke_api_token(session: Session, *, user: User, token_id: int) -> bool:
    """Delete one of the user's tokens; False when they have no token of that id."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return False
    session.delete(row)
    session.commit()
    return True


def list_users(session: Session) -> list[User]:
    """Every account, oldest first (the instructors' user list)."""
    return list(session.exec(select(User).order_by(col(User.created_at))).all())


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)
