"""Log in / out, who am I, and user accounts (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from segany.engine import accounts
from segany.engine.api.deps import SESSION_COOKIE, CurrentUser, Db, Engine
from segany.engine.api.schemas import Login, NewUser, user_json
from segany.engine.errors import Forbidden

router = APIRouter(prefix="/api/engine", tags=["engine: accounts"])


@router.post("/login")
def login(body: Login, response: Response, db: Db, engine: Engine) -> dict[str, Any]:
    with db.begin():
        user = accounts.verify_password(db, body.username, body.password)
        token, csrf = accounts.start_session(db, user)
        answer = {"user": user_json(user), "csrf_token": csrf}
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=engine.secure_cookies,
        path="/",
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
    )
    return answer


@router.post("/logout")
def logout(request: Request, response: Response, user: CurrentUser, db: Db) -> dict[str, Any]:
    with db.begin():
        accounts.end_session(db, request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/me")
def me(request: Request, db: Db) -> dict[str, Any]:
    """The user and the session's CSRF token (the page reads it after a reload)."""
    user, login_row = accounts.session_user(db, request.cookies.get(SESSION_COOKIE))
    return {"user": user_json(user), "csrf_token": login_row.csrf_token}


@router.post("/users", status_code=201)
def create_user(body: NewUser, user: CurrentUser, db: Db) -> dict[str, Any]:
    if user.role != "admin":
        raise Forbidden("only an admin may create accounts")
    with db.begin():
        created = accounts.create_user(db, body.username, body.password, body.role)
        return user_json(created)
