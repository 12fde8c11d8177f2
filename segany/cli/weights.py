"""`segany weights`: list, download, verify and locate pretrained checkpoints.

The cache folder is $SEGANY_CACHE_DIR, else $XDG_CACHE_HOME/segany, else ~/.cache/segany. Commands that take a
model use the best checkpoint found there by default (see `segany info`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from segany import weights as weights_lib
from segany.cli.common import CliError, add_quiet_option, note, progress_bar, subcommand_parser

EXAMPLES = """
  segany weights list
  segany weights download vit_b            # into the cache, with a progress bar; resumes a partial download
  segany weights verify ~/Downloads/sam_vit_b_01ec64.pth
  segany weights verify model.pth --name vit_b
  segany weights path vit_b                # prints the cache path; exit code 1 if it is not there yet
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "weights",
        "list / download / verify / locate pretrained checkpoints",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="known checkpoints: name, file, size, sha256, present in the cache"
    )
    listing.add_argument("--json", action="store_true", default=None, help="print json instead of a table")
    listing.set_defaults(run=run_list)
    fetch = actions.add_parser("download", help="download a checkpoint into the cache (sha256 verified)")
    fetch.add_argument("name", help="weights name (see `segany weights list`)")
    fetch.add_argument(
        "--out", metavar="DIR", default=None, help="folder to download into (default: the cache)"
    )
    add_quiet_option(fetch)
    fetch.set_defaults(run=run_download)
    check = actions.add_parser("verify", help="check a file's size and sha256 against the known checkpoints")
    check.add_argument("path", help="checkpoint file")
    check.add_argument("--name", default=None, help="the checkpoint it should be (default: found by size)")
    check.set_defaults(run=run_verify)
    where = actions.add_parser("path", help="print where a checkpoint is (or will be) cached")
    where.add_argument("name", help="weights name (see `segany weights list`)")
    where.set_defaults(run=run_path)
    return parser


def _info(name: str) -> weights_lib.WeightsInfo:
    try:
        return weights_lib.weights_info(name)
    except ValueError as exc:
        raise CliError(f"{exc} (see `segany weights list`)") from exc


def weights_rows() -> list[dict[str, Any]]:
    """One dict per known checkpoint, best first, with where it is cached and whether it is there."""
    from segany.cli.models import catalog

    rows = []
    for info in catalog():
        path = weights_lib.weights_path(info.name)
        rows.append(
            {
                "name": info.name,
                "arch": info.model,
                "file": info.file_name,
                "bytes": info.num_bytes,
                "sha256": info.sha256,
                "present": weights_lib.find_local(info.name) is not None,
                "path": str(path),
                "url": info.url,
                "description": info.description,
            }
        )
    return rows


def run_list(args: argparse.Namespace) -> int:
    rows = weights_rows()
    if args.json:
        print(json.dumps({"cache_dir": str(weights_lib.cache_dir()), "weights": rows}, indent=2))
        return 0
    print(f"cache: {weights_lib.cache_dir()}")
    header = f"{'NAME':<13} {'ARCH':<13} {'SIZE':>9} {'PRESENT':<7} {'FILE':<25} SHA256"
    print(header)
    for row in rows:
        size = f"{row['bytes'] / 2**20:,.0f} MiB"
        present = "yes" if row["present"] else "no"
        print(f"{row['name']:<13} {row['arch']:<13} {size:>9} {present:<7} {row['file']:<25} {row['sha256']}")
    if not any(row["present"] for row in rows):
        smallest = min(rows, key=lambda row: row["bytes"])
        print(
            f"none present: `segany weights download {smallest['name']}` fetches the smallest "
            f"({smallest['bytes'] / 2**20:,.0f} MiB)"
        )
    return 0


def run_download(args: argparse.Namespace) -> int:
    info = _info(args.name)
    if weights_lib.is_bundled(info.name):
        print(weights_lib.download(info))  # verified in place: shipped inside the package
        return 0
    note(args, f"downloading {info.file_name} ({info.num_bytes / 2**20:,.0f} MiB) from {info.url}")
    with progress_bar(args, total=info.num_bytes, unit="B", unit_scale=True, unit_divisor=1024) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        path = weights_lib.download(info, destination=args.out, progress=progress)
    print(path)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"{path}: file not found")
    size = path.stat().st_size
    if args.name is not None:
        candidates = [_info(args.name)]
    else:
        from segany.cli.models import catalog

        candidates = [info for info in catalog() if info.num_bytes == size]
        if not candidates:
            raise CliError(
                f"{path} ({size:,} bytes) has the size of no known checkpoint (see `segany weights list`); "
                "it is not an official file, or it is incomplete"
            )
    digest = weights_lib.file_sha256(path)
    for info in candidates:
        if size == info.num_bytes and digest == info.sha256:
            print(f"OK: {path} is {info.name} ({info.file_name}, sha256 {digest})")
            return 0
    expected = candidates[0]
    raise CliError(
        f"{path} is not {expected.name}: size {size:,} (expected {expected.num_bytes:,}), sha256 {digest} "
        f"(expected {expected.sha256}); download it again with `segany weights download {expected.name}`"
    )


def run_path(args: argparse.Namespace) -> int:
    info = _info(args.name)
    path = weights_lib.weights_path(info.name)
    print(path)
    if weights_lib.find_local(info.name) is None:
        print(
            f"segany: {info.name} is not downloaded yet: `segany weights download {info.name}`",
            file=sys.stderr,
        )
        return 1
    return 0
