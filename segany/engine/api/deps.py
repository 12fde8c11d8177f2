"""Request dependencies: the store, one DB session per request, the logged-in user (CSRF checked on changes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from segany.engine.accounts import csrf_matches, session_user
from segany.engine.errors import Forbidden
from segany.engine.jobs import JobRunner
from segany.engine.models import User
from segany.engine.store import Store

SESSION_COOKIE = "segany_session"
CSRF_HEADER = "X-CSRF-Token"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class EngineState:
    store: Store
    runner: JobRunner | None
    model_version_id: int | None
    secure_cookies: bool = False


def get_engine(request: Request) -> EngineState:
    state: EngineState = request.app.state.engine
    return state


def get_db(engine: Annotated[EngineState, Depends(get_engine)]) -> Iterator[Session]:
    with engine.store.session() as db:
        yield db


def current_user(request: Request, db: Annotated[Session, Depends(get_db)]) -> User:
    """The session's user; mutating requests must also echo the session's CSRF token in X-CSRF-Token."""
    user, login = session_user(db, request.cookies.get(SESSION_COOKIE))
    if request.method in MUTATING and not csrf_matches(login, request.headers.get(CSRF_HEADER)):
        raise Forbidden(f"missing or wrong {CSRF_HEADER} header (CSRF guard)", "csrf")
    db.commit()  # end the read transaction: handlers open their own
    return user


Db = Annotated[Session, Depends(get_db)]
CurrentUser = Annotated[User, Depends(current_user)]
Engine = Annotated[EngineState, Depends(get_engine)]
