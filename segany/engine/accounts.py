"""Users, passwords (argon2id via argon2-cffi), login sessions and per-session CSRF tokens.

The session cookie carries a random token; the database keeps only its sha256, with the CSRF token the page
must echo in the `X-CSRF-Token` header on every change (a cross-site page can neither read the cookie nor the
token, so it cannot forge a change).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from segany.engine.errors import Conflict, Invalid, Unauthorized
from segany.engine.models import ROLES, AuthSession, User, utc_now

if TYPE_CHECKING:
    from argon2 import PasswordHasher

SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_CHARS = 8
MAX_USERNAME_CHARS = 64


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # pragma: no cover - the engine extra brings argon2-cffi
        raise ImportError(f'accounts need the engine extra: pip install "segany[engine]" ({exc})') from exc
    return PasswordHasher()


def create_user(db: Session, username: str, password: str, role: str) -> User:
    """Raises Invalid (bad name, short password, unknown role) or Conflict (name taken)."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {ROLES}, got {role!r}", "role")
    if (
        not (0 < len(username) <= MAX_USERNAME_CHARS)
        or not username.isprintable()
        or username.strip() != username
    ):
        raise Invalid(
            f"username must be 1..{MAX_USERNAME_CHARS} printable characters, got {username!r}", "username"
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(f"password must have at least {MIN_PASSWORD_CHARS} characters", "password")
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken", "username")
    user = User(username=username, password_hash=_hasher().hash(password), role=role)
    db.add(user)
    db.flush()
    return user


def verify_password(db: Session, username: str, password: str) -> User:
    """The user when the password matches; Unauthorized otherwise (same answer for an unknown name)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    user = db.scalar(select(User).where(User.username == username))
    hasher = _hasher()
    if user is None:
        hasher.hash(password)  # same work as a real check: the time does not tell which names exist
        raise Unauthorized("wrong username or password")
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong username or password") from None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def start_session(db: Session, user: User) -> tuple[str, str]:
    """A new login: (cookie token, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    db.add(
        AuthSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=utc_now() + SESSION_LIFETIME,
        )
    )
    db.execute(delete(AuthSession).where(AuthSession.expires_at < utc_now()))
    return token, csrf


def session_user(db: Session, token: str | None) -> tuple[User, AuthSession]:
    """The logged-in user of a cookie token; Unauthorized when absent, unknown or expired."""
    if not token:
        raise Unauthorized("log in first (no session cookie)")
    login = db.get(AuthSession, _digest(token))
    if login is None or _aware(login.expires_at) < utc_now():
        raise Unauthorized("the session expired or is unknown; log in again")
    user = db.get(User, login.user_id)
    if user is None:
        raise Unauthorized("the session's user no longer exists")
    return user, login


def end_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(AuthSession).where(AuthSession.token_hash == _digest(token)))


def csrf_matches(login: AuthSession, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(login.csrf_token.encode(), header.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
