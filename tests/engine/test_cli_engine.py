"""`segany engine init | user add | project add`: folders, accounts and projects from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from segany.cli.main import main
from segany.engine.accounts import verify_password
from segany.engine.models import Membership, Project
from segany.engine.store import open_store


def test_init_user_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "birds"
    assert main(["engine", "init", str(folder)]) == 0
    assert (folder / "engine.sqlite3").is_file()
    monkeypatch.setenv("SEGANY_PASSWORD", "a-long-password")
    assert main(["engine", "user", "add", str(folder), "alice", "--role", "annotator"]) == 0
    assert main(["engine", "user", "add", str(folder), "alice", "--role", "admin"]) == 1  # taken
    assert main(["engine", "project", "add", str(folder), "gulls", "--member", "alice"]) == 0
    assert main(["engine", "project", "add", str(folder), "terns", "--member", "nobody"]) == 1
    assert "unknown user 'nobody'" in capsys.readouterr().err
    assert main(["engine", "user", "add", str(tmp_path / "missing"), "bob", "--role", "admin"]) == 1
    store = open_store(folder)
    with store.session() as db:
        assert verify_password(db, "alice", "a-long-password").role == "annotator"
        assert list(db.scalars(select(Project.name))) == ["gulls"]  # the failed "terns" was rolled back
        assert db.scalar(select(Membership)) is not None
    store.close()


def test_cli_on_postgresql(
    tmp_path: Path, postgres_socket: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same commands with `--db URL`: the rows land in PostgreSQL, the folder holds only the images."""
    from pg_server import create_database

    url = create_database(postgres_socket, "segany_cli_test")
    folder = tmp_path / "birds"
    assert main(["engine", "--db", url, "init", str(folder)]) == 0
    assert not (folder / "engine.sqlite3").exists()
    monkeypatch.setenv("SEGANY_PASSWORD", "a-long-password")
    assert main(["engine", "--db", url, "user", "add", str(folder), "alice", "--role", "annotator"]) == 0
    assert main(["engine", "--db", url, "user", "add", str(folder), "alice", "--role", "admin"]) == 1
    assert main(["engine", "--db", url, "project", "add", str(folder), "gulls", "--member", "alice"]) == 0
    assert main(["engine", "--db", url, "versions", str(folder)]) == 0
    store = open_store(folder, url=url)
    with store.session() as db:
        assert verify_password(db, "alice", "a-long-password").role == "annotator"
        assert list(db.scalars(select(Project.name))) == ["gulls"]
    assert store.engine.dialect.name == "postgresql"
    store.close()
