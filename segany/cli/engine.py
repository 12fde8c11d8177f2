"""`segany engine`: the data engine's project folders, accounts and project server.

  init PROJECT_DIR                  make (or migrate) a project folder: database + image store
  user add PROJECT_DIR NAME --role  add an account (password from $SEGANY_PASSWORD or a prompt)
  project add PROJECT_DIR NAME      add a project (--member NAME to add members)
  serve PROJECT_DIR                 the annotation server (accounts, projects, jobs) on `segany serve`
  retrain PROJECT_DIR --project NAME --model-version V --out RUN --name NEW
                                    fine-tune on the project's accepted masks, register version NEW
  import-auto PROJECT_DIR RUN_DIR --project NAME
                                    a finished `segany auto` run's masks as automatic proposals for review
  versions PROJECT_DIR              list the registered model versions
  use-model VERSION --server URL --user NAME
                                    make a running project server serve VERSION (no restart; an admin)

Needs the engine extra: pip install "segany[engine]" (and the server extra for `serve`).
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from segany.cli.common import CliError, add_model_options, subcommand_parser, warn

EXAMPLES = """
  segany engine init birds/
  SEGANY_PASSWORD=... segany engine user add birds/ alice --role admin
  segany engine project add birds/ gulls --member bob
  segany engine serve birds/ --model segany_small --port 8000
  segany engine retrain birds/ --project gulls --model-version 1 --out runs/r1 --name round1 --steps 300
  segany engine serve birds/ --model-version round1
  segany engine import-auto birds/ auto_out/ --project gulls
  SEGANY_PASSWORD=... segany engine use-model round1 --server http://127.0.0.1:8000 --user alice
"""
PASSWORD_ENV = "SEGANY_PASSWORD"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    doc = __doc__ or ""
    parser = subcommand_parser(
        subparsers,
        "engine",
        "data engine: projects, accounts, annotation server",
        doc.split("\n\n", 1)[1],
        EXAMPLES,
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="database URL (default: SQLite in PROJECT_DIR); e.g. postgresql+psycopg://...",
    )
    actions = parser.add_subparsers(dest="engine_command", metavar="ACTION")
    init = actions.add_parser("init", help="make or migrate a project folder")
    init.add_argument("project_dir", metavar="PROJECT_DIR")
    init.set_defaults(run=run_init)
    user = actions.add_parser("user", help="accounts").add_subparsers(dest="user_command", metavar="ACTION")
    user_add = user.add_parser("add", help="add an account")
    user_add.add_argument("project_dir", metavar="PROJECT_DIR")
    user_add.add_argument("username")
    user_add.add_argument("--role", choices=("admin", "annotator", "reviewer"), required=True)
    user_add.set_defaults(run=run_user_add)
    project = actions.add_parser("project", help="projects").add_subparsers(
        dest="project_command", metavar="ACTION"
    )
    project_add = project.add_parser("add", help="add a project")
    project_add.add_argument("project_dir", metavar="PROJECT_DIR")
    project_add.add_argument("name")
    project_add.add_argument("--member", action="append", default=[], help="username to add (repeatable)")
    project_add.set_defaults(run=run_project_add)
    serve = actions.add_parser("serve", help="start the annotation server")
    serve.add_argument("project_dir", metavar="PROJECT_DIR")
    serve.add_argument("--host", default=None, help="address (default 127.0.0.1; others need accounts)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument(
        "--random-weights",
        action="store_true",
        default=None,
        help="--model is an architecture built with seeded random weights (tests)",
    )
    serve.add_argument("--model-version", default=None, help="a registered model version (name or id)")
    add_model_options(serve)
    serve.set_defaults(run=run_serve)
    again = actions.add_parser("retrain", help="fine-tune on accepted masks, register a new model version")
    again.add_argument("project_dir", metavar="PROJECT_DIR")
    again.add_argument("--project", required=True, help="project whose accepted masks to train on")
    again.add_argument("--model-version", required=True, help="version to start from (name or id)")
    again.add_argument("--out", required=True, help="run folder (rerun the command to resume)")
    again.add_argument("--name", required=True, help="name of the new model version")
    again.add_argument("--mode", choices=("decoder", "finetune", "full"), default="decoder")
    again.add_argument("--steps", type=int, default=200)
    again.add_argument(
        "--sources",
        default="manual,prefilled,automatic",
        help="comma-separated annotation sources to train on (automatic = self-training)",
    )
    again.add_argument("--device", default="auto")
    again.set_defaults(run=run_retrain)
    from segany.cli.engine_import import add_import_auto_parser

    add_import_auto_parser(actions)
    versions = actions.add_parser("versions", help="list the registered model versions")
    versions.add_argument("project_dir", metavar="PROJECT_DIR")
    versions.set_defaults(run=run_versions)
    use = actions.add_parser("use-model", help="switch a running server to a registered model version")
    use.add_argument("version", help="model version (name or id)")
    use.add_argument("--server", default="http://127.0.0.1:8000", help="the project server's URL")
    use.add_argument(
        "--user", required=True, help="an admin account (password from $SEGANY_PASSWORD or a prompt)"
    )
    use.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the switch")
    use.set_defaults(run=run_use_model)
    return parser


def _store(args: argparse.Namespace, create: bool) -> Any:
    try:
        from segany.engine.store import open_store
    except ImportError as exc:
        raise CliError(
            f'`segany engine` needs the engine extra: pip install "segany[engine]" ({exc})'
        ) from exc
    return open_store(Path(args.project_dir), url=args.db, create=create)


def run_init(args: argparse.Namespace) -> int:
    store = _store(args, create=True)
    print(f"engine project ready: {Path(args.project_dir).resolve()} ({store.url.split('?')[0]})")
    store.close()
    return 0


def run_user_add(args: argparse.Namespace) -> int:
    from segany.engine.accounts import create_user
    from segany.engine.errors import EngineError

    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {args.username}: ")
    store = _store(args, create=False)
    try:
        with store.transaction() as db:
            create_user(db, args.username, password, args.role)
    except EngineError as exc:
        raise CliError(exc.detail) from None
    finally:
        store.close()
    print(f"user {args.username} ({args.role}) added")
    return 0


def run_project_add(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from segany.engine.errors import EngineError
    from segany.engine.models import User
    from segany.engine.projects import add_member, create_project

    store = _store(args, create=False)
    try:
        with store.transaction() as db:
            project = create_project(db, args.name)
            for name in args.member:
                member = db.scalar(select(User).where(User.username == name))
                if member is None:
                    raise CliError(f"--member: unknown user {name!r}")
                add_member(db, project, member)
            project_id = project.id
    except EngineError as exc:
        raise CliError(exc.detail) from None
    finally:
        store.close()
    print(f"project {args.name} added (id {project_id})")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from segany.engine.server import build_engine_app
        from segany.server.settings import ServerSettings
    except ImportError as exc:
        raise CliError(f'`segany engine serve` needs: pip install "segany[engine,server]" ({exc})') from exc
    model = args.model
    if args.model_version is not None:
        from segany.engine.versions import find_version

        store = _store(args, create=False)
        try:
            model = find_version(store, args.model_version).model
        finally:
            store.close()
    given = {
        "model": model,
        "arch": args.arch,
        "device": args.device,
        "host": args.host,
        "port": args.port,
        "random_weights": bool(args.random_weights),
    }
    settings = ServerSettings(**{key: value for key, value in given.items() if value is not None})
    app = build_engine_app(Path(args.project_dir), settings, url=args.db)
    if not settings.checks_host_header:
        warn(f"listening on {settings.host}: use HTTPS in front of it (session cookies)")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"segany engine: http://{host}:{settings.port}/", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    from segany.engine.errors import EngineError
    from segany.engine.retrain import retrain
    from segany.engine.versions import find_version

    store = _store(args, create=False)
    try:
        base = find_version(store, args.model_version)
        result = retrain(
            store,
            args.project,
            base.model,
            Path(args.out),
            args.name,
            args.mode,
            args.steps,
            tuple(part.strip() for part in args.sources.split(",") if part.strip()),
            base.id,
            args.device,
        )
    except EngineError as exc:
        raise CliError(exc.detail) from None
    finally:
        store.close()
    print(
        f"model version {result.version_name} (id {result.version_id}): {result.weights}, "
        f"trained on {result.masks} masks"
    )
    return 0


def run_versions(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from segany.engine.models import ModelVersion

    store = _store(args, create=False)
    try:
        with store.session() as db:
            rows = list(db.scalars(select(ModelVersion).order_by(ModelVersion.id)))
    finally:
        store.close()
    for row in rows:
        parent = f" (from {row.parent_id})" if row.parent_id is not None else ""
        print(f"{row.id}\t{row.name}{parent}\t{row.model}\t{row.notes}")
    return 0


def run_use_model(args: argparse.Namespace) -> int:
    from segany.engine.remote import EngineClient, RemoteError

    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {args.user}: ")
    try:
        client = EngineClient(args.server, timeout=args.timeout)
        client.login(args.user, password)
        answer = client.request("PUT", "/api/engine/model-version", {"version": args.version})
    except RemoteError as exc:
        raise CliError(str(exc)) from None
    version, model = answer["version"], answer["model"]
    print(
        f"{args.server} now serves model version {version['name']} (id {version['id']}): {model['fingerprint'][:12]}"
    )
    return 0
