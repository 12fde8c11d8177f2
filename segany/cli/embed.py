"""`segany embed`: encode images once and save their embeddings (`.npz`) for fast prompting later.

Each image gives `<out>/<name>.npz` (see `segany.embedding_file`), readable by `SamPredictor.load_image_embedding`,
the ONNX runtime and `segany segment --embedding`. The file records the model, so `segment` picks the same one.
Existing embeddings are kept (re-runs resume); a file that cannot be read is reported and skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segany.cli.batch import ImageItem, collect_images, run_batch
from segany.cli.common import (
    add_model_options,
    add_quiet_option,
    atomic_path,
    note,
    output_dir,
    settings_document,
    subcommand_parser,
    write_settings,
)

EXAMPLES = """
  segany embed photo.jpg --out emb/                  # -> emb/photo.npz
  segany embed photos/ --out emb/ --model vit_b
  segany segment photo.jpg --embedding emb/photo.npz --point 220,140 --out out/
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "embed",
        "save image embeddings (.npz) to prompt later without the encoder",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE|DIR|GLOB",
        help="images, folders of images or glob patterns (several may be given)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--recursive", action="store_true", default=None, help="include subfolders")
    parser.add_argument(
        "--overwrite", action="store_true", default=None, help="recompute existing embeddings"
    )
    add_model_options(parser)
    add_quiet_option(parser)
    parser.set_defaults(run=run)
    return parser


def embedding_path(out: Path, item: ImageItem) -> Path:
    return out / item.name.with_suffix(".npz")


def run(args: argparse.Namespace) -> int:
    from segany.cli.models import resolve_device, resolve_model
    from segany.io import load_image
    from segany.predictor import SamPredictor

    items = collect_images(args.images, recursive=bool(args.recursive))
    out = output_dir(args.out)
    device = resolve_device(args.device)
    sam, description = resolve_model(args.model, device, args.arch)
    note(args, f"model {description} on {device}")
    write_settings(out, settings_document("embed", args, model=description.to_dict(), device=str(device)))
    predictor = SamPredictor(sam)

    def process(item: ImageItem) -> int:
        predictor.set_image(load_image(item.path))
        target = embedding_path(out, item)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary:
            predictor.save_image_embedding(temporary, model_name=description.spec)
        return 0

    def is_done(item: ImageItem) -> bool:
        return not args.overwrite and embedding_path(out, item).is_file()

    summary = run_batch(args, items, process, is_done)
    print(f"embeddings in {out}: {summary.line(masks=False)}")
    return 1 if summary.failed else 0
