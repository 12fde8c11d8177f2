"""`segany everything`: every object in one image or many (SAM's automatic mask generator), in a dataset format.

Formats: sa1b (one json per image, the default), coco (one annotations.json for the whole run), png (a folder
per image: 0.png, 1.png, ... + metadata.csv, as the official amg.py), yolo (one YOLO-seg .txt per image).
Outputs mirror the input's subfolders. With --overlay, overlays/<name>.png shows each image's masks.

Re-running with the same --out resumes: images whose output is complete are skipped (outputs are written
atomically). A different model / settings / format in the same folder is refused unless --overwrite. An image
that cannot be read is reported on one line and skipped; the exit code is then 1. For coco, each image is
first written as an SA-1B json under per_image/, and annotations.json is assembled from them at the end.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

from segany.cli.batch import ImageItem, collect_images, run_batch
from segany.cli.common import (
    SETTINGS_FILE,
    CliError,
    add_model_options,
    add_quiet_option,
    finite_float,
    non_negative_int,
    note,
    output_dir,
    positive_int,
    save_png,
    settings_document,
    subcommand_parser,
    write_settings,
)

EXAMPLES = """
  segany everything photo.jpg --out masks/
  segany everything dog.jpg truck.jpg more_photos/ --out masks/
  segany everything photos/ --out masks/ --format coco --overlay
  segany everything 'shots/**/*.jpg' --recursive --out masks/ --format yolo --preset fast
  segany everything photos/ --out masks/ --preset sa1b --min-mask-region-area 100
  (run again with the same --out to resume after an interruption)
"""

# segany.amg.presets.PRESETS (not imported here: it imports torch, and `segany --help` should be instant).
PRESETS = ("official", "sa1b", "dense", "fast")
DEFAULT_FORMAT = "sa1b"
PER_IMAGE_DIR = "per_image"  # coco: SA-1B json per image, assembled into annotations.json at the end
OVERLAY_DIR = "overlays"
OUTPUT_MODE = "coco_rle"  # compact records; every format accepts them
# Flags that map 1:1 to SamAutomaticMaskGenerator keyword arguments: (flag dest, type, help).
GENERATOR_FLAGS: tuple[tuple[str, Any, str], ...] = (
    ("points_per_side", positive_int, "grid of N x N prompt points per crop"),
    ("points_per_batch", positive_int, "points decoded together (memory vs speed)"),
    ("pred_iou_thresh", finite_float, "keep masks whose predicted IoU is above F"),
    ("stability_score_thresh", finite_float, "keep masks whose stability score is at least F"),
    ("stability_score_offset", finite_float, "threshold offset for the stability score"),
    ("box_nms_thresh", finite_float, "box IoU above which duplicate masks are removed"),
    ("crop_n_layers", non_negative_int, "also run on crops: N layers of 2^i x 2^i crops"),
    ("crop_nms_thresh", finite_float, "box IoU for removing duplicates between crops"),
    ("crop_overlap_ratio", finite_float, "overlap of neighbouring crops (fraction of the image)"),
    ("crop_n_points_downscale_factor", positive_int, "points per side divided by this per crop layer"),
    ("min_mask_region_area", non_negative_int, "remove holes and islands smaller than N pixels"),
    ("max_mask_fraction", finite_float, "drop masks covering at least this fraction of the image"),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from segany.formats import FORMATS

    parser = subcommand_parser(
        subparsers,
        "everything",
        "all masks of images (automatic mask generation) as a dataset",
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
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help=f"output format (default {DEFAULT_FORMAT})"
    )
    parser.add_argument(
        "--preset", choices=PRESETS, default=None, help="generator settings preset (flags override)"
    )
    parser.add_argument("--overlay", action="store_true", default=None, help="also write overlays/<name>.png")
    parser.add_argument("--recursive", action="store_true", default=None, help="include subfolders")
    parser.add_argument("--overwrite", action="store_true", default=None, help="redo images already done")
    group = parser.add_argument_group("generator settings (default: the preset, else the official values)")
    for dest, kind, text in GENERATOR_FLAGS:
        metavar = "F" if kind is finite_float else "N"
        group.add_argument(
            f"--{dest.replace('_', '-')}", dest=dest, type=kind, metavar=metavar, default=None, help=text
        )
    add_model_options(parser)
    add_quiet_option(parser)
    parser.set_defaults(run=run)
    return parser


def generator_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The preset's keyword arguments, overridden by the flags given."""
    settings: dict[str, Any] = {}
    if args.preset is not None:
        from segany.amg.presets import get_preset

        settings.update(get_preset(args.preset))
    for dest, _, _ in GENERATOR_FLAGS:
        value = getattr(args, dest)
        if value is not None:
            settings[dest] = value
    return settings


def effective_settings(generator_class: type, given: dict[str, Any]) -> dict[str, Any]:
    """Every generator setting as the run used it: the library defaults updated with `given`."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(generator_class).parameters.items()
        if parameter.default is not inspect.Parameter.empty and name not in ("point_grids", "output_mode")
    }
    return {**defaults, **given}


class Layout:
    """Where one image's outputs go, and whether they are complete."""

    def __init__(self, out: Path, fmt: str, overlay: bool) -> None:
        self.out, self.fmt, self.overlay = out, fmt, overlay

    def main_output(self, item: ImageItem) -> Path:
        from segany.formats import dataset_output_path

        if self.fmt == "coco":
            return self.out / PER_IMAGE_DIR / item.name.with_suffix(".json")
        return dataset_output_path(self.out / item.name.parent, item.name.name, self.fmt)

    def done_marker(self, item: ImageItem) -> Path:
        """The file written last for an image: its presence means the image is complete."""
        from segany.formats.png_csv import METADATA_FILE

        target = self.main_output(item)
        return target / METADATA_FILE if self.fmt == "png" else target

    def overlay_path(self, item: ImageItem) -> Path:
        return self.out / OVERLAY_DIR / item.name.with_suffix(".png")

    def is_done(self, item: ImageItem) -> bool:
        return self.done_marker(item).is_file() and (not self.overlay or self.overlay_path(item).is_file())


def run(args: argparse.Namespace) -> int:
    from segany.amg import SamAutomaticMaskGenerator
    from segany.cli.models import resolve_device, resolve_model

    fmt = args.format or DEFAULT_FORMAT
    items = collect_images(args.images, recursive=bool(args.recursive))
    out = output_dir(args.out)
    given = generator_settings(args)
    device = resolve_device(args.device)
    sam, description = resolve_model(args.model, device, args.arch)
    note(args, f"model {description} on {device}")
    try:
        generator = SamAutomaticMaskGenerator(sam, output_mode=OUTPUT_MODE, **given)
    except (TypeError, ValueError) as exc:
        raise CliError(f"generator settings: {exc}") from exc
    fingerprint = {
        "model": description.to_dict(),
        "generator": effective_settings(SamAutomaticMaskGenerator, given),
        "format": fmt,
    }
    _check_resume(out, fingerprint, bool(args.overwrite))
    settings = settings_document("everything", args, device=str(device), **fingerprint)
    write_settings(out, settings)
    layout = Layout(out, fmt, bool(args.overlay))
    ids = {item.path: index + 1 for index, item in enumerate(items)}

    def process(item: ImageItem) -> int:
        return _process_image(item, ids[item.path], generator, layout)

    def is_done(item: ImageItem) -> bool:
        return not args.overwrite and layout.is_done(item)

    summary = run_batch(args, items, process, is_done)
    if fmt == "coco":
        coco = _assemble_coco(items, layout)
        note(args, f"COCO annotations: {coco}")
    write_settings(out, {**settings, "summary": summary.to_dict()})
    print(f"{out}: {summary.line()}")
    return 1 if summary.failed else 0


def _check_resume(out: Path, fingerprint: dict[str, Any], overwrite: bool) -> None:
    """Refuse to mix results of different models / settings / formats in one folder (unless --overwrite)."""
    path = out / SETTINGS_FILE
    if overwrite or not path.is_file():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(previous, dict) or previous.get("command") != "everything":
        return
    current = json.loads(json.dumps(fingerprint))  # the same json types as the file
    changed = [key for key in fingerprint if previous.get(key) != current[key]]
    if changed:
        raise CliError(
            f"{out} holds results made with a different {' and '.join(changed)} (see {path}): use another --out, "
            "or --overwrite to redo every image"
        )


def _process_image(item: ImageItem, image_id: int, generator: Any, layout: Layout) -> int:
    from segany.formats import ImageInfo, segmentation_to_mask, write_records, write_sa1b
    from segany.io import load_image

    image = load_image(item.path)
    records = generator.generate(image)
    info = ImageInfo(
        item.name.as_posix(), width=int(image.shape[1]), height=int(image.shape[0]), image_id=image_id
    )
    if layout.overlay:  # before the main output, which marks the image as done
        from segany.cli.drawing import draw_overlay

        masks = [segmentation_to_mask(record["segmentation"]) for record in records]
        save_png(draw_overlay(image, masks), layout.overlay_path(item))
    target = layout.main_output(item)
    if layout.fmt == "coco":
        write_sa1b(records, info, target)
    else:
        write_records(records, info, target, layout.fmt)
    return len(records)


def _assemble_coco(items: list[ImageItem], layout: Layout) -> Path:
    """One COCO json from the per-image SA-1B files present (image ids follow the input order)."""
    from dataclasses import replace

    from segany.formats import COCO_FILE_NAME, read_sa1b, write_coco

    pairs = []
    for image_id, item in enumerate(items, start=1):
        part = layout.main_output(item)
        if part.is_file():
            info, records = read_sa1b(part, output_mode=OUTPUT_MODE)
            pairs.append((replace(info, image_id=image_id), records))
    return write_coco(pairs, layout.out / COCO_FILE_NAME)
