"""`segany serve`: start the interactive web app and print its URL.

Binds to 127.0.0.1 by default (reachable from this machine only). The gallery lists the images of
`--images` plus uploads; embeddings are cached in memory and under `--cache-dir`, so reopening an image
is instant. Needs the server extra: pip install "segany[server]".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segany.cli.common import CliError, add_model_options, note, subcommand_parser, warn

EXAMPLES = """
  segany serve --images photos/                       # http://127.0.0.1:8000
  segany serve --model vit_b --images photos/ --port 8080
  segany serve --model vit_b --random-weights         # architecture with seeded random weights (benchmarks)
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "serve",
        "start the interactive web app (hover, click, box, everything, export)",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    parser.add_argument("--images", metavar="DIR", default=None, help="folder whose images the gallery lists")
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None,
        help="embeddings, uploads, decoder (default: <weights cache>/serve)",
    )
    parser.add_argument(
        "--random-weights",
        action="store_true",
        default=None,
        help="build --model (an architecture: vit_b, vit_tiny, ...) with seeded random weights",
    )
    parser.add_argument(
        "--max-upload-mb", type=float, default=None, help="largest upload in MiB (default 50)"
    )
    parser.add_argument(
        "--max-pixels", type=int, default=None, help="largest image, width * height (default 40M)"
    )
    parser.add_argument(
        "--cache-mb", type=float, default=None, help="memory for cached embeddings in MiB (default 1024)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice); 1 keeps hover latency steady on a busy machine",
    )
    add_model_options(parser)
    parser.set_defaults(run=run)
    return parser


def settings_from_args(args: argparse.Namespace) -> Any:
    from segany.server.settings import ServerSettings

    given: dict[str, Any] = {
        "model": args.model,
        "arch": args.arch,
        "device": args.device,
        "random_weights": bool(args.random_weights),
        "images_dir": None if args.images is None else Path(args.images),
        "cache_dir": None if args.cache_dir is None else Path(args.cache_dir),
        "host": args.host,
        "port": args.port,
        "max_pixels": args.max_pixels,
        "max_upload_bytes": None if args.max_upload_mb is None else int(args.max_upload_mb * 2**20),
        "memory_cache_bytes": None if args.cache_mb is None else int(args.cache_mb * 2**20),
        "export_decoder_at_start": True,
    }
    try:
        return ServerSettings(**{key: value for key, value in given.items() if value is not None})
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from segany.server.app import create_app
    except ImportError as exc:
        raise CliError(
            f'`segany serve` needs the server extra: pip install "segany[server]" ({exc})'
        ) from exc
    settings = settings_from_args(args)
    if args.threads is not None:
        if args.threads < 1:
            raise CliError(f"--threads must be a positive int, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    app = create_app(settings)
    state = app.state.segany
    for reason in state.skipped_images:
        warn(f"skipping {reason}")
    if not settings.checks_host_header:
        warn(f"listening on {settings.host}: anyone who can reach this address can use the app")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    note(args, f"model {state.model.name} ({state.model.source}), {len(state.images.ids())} images")
    print(f"segany serve: http://{host}:{settings.port}/", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
