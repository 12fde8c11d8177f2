"""`segany track`: prompt objects on any frames of a video, propagate them through it, write per-frame masks.

Prompts name a frame T (0-based) and optionally an object K (1..255, default 1): `--point [K:]T,X,Y[,L]`,
`--box [K:]T,X0,Y0,X1,Y1` (XYXY pixels), `--mask [T:]FILE.png` (a DAVIS-style label map: each label is an
object; a 0/255 mask is object 1; without T the frame is the one whose file stem matches, else the number in the
file name). Each object is tracked backwards from its first prompted frame and forwards from there, re-anchored
on every frame where it has prompts.

Outputs in --out: `masks/<frame>.png` (indexed PNGs, pixel = object id), `json/<frame>.json` (SA-1B, or COCO with
`--format coco`; each annotation's `id` is the object id, with `uncertain` when SAM's answer was rejected and the
flow-carried mask kept), the overlay (`overlay.mp4`, or `overlay/<frame>.jpg` frames), `track.json` (per object:
frames present, uncertain frames) and `settings.json`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from segany.cli.common import (
    CliError,
    add_model_options,
    add_quiet_option,
    non_negative_int,
    note,
    output_dir,
    positive_int,
    progress_bar,
    settings_document,
    subcommand_parser,
    write_json_file,
    write_settings,
)

EXAMPLES = """
  segany track clip.mp4 --point 0,420,250 --out tracked/               # one object, one click on frame 0
  segany track frames/ --box 1:0,100,80,260,300 --box 2:0,400,90,520,310 --out tracked/   # two objects
  segany track frames/ --mask 00000.png --out tracked/                 # DAVIS-style first-frame annotation
  segany track clip.mp4 --point 0,420,250 --point 57,380,300,0 --out tracked/   # a correction on frame 57
  segany track clip.mp4 --point 0,420,250 --keyframe-interval 5 --overlay frames --out tracked/
"""

_PREFIX = re.compile(r"^\s*(\d+)\s*:(.*)$")


def _split_prefix(text: str) -> tuple[int | None, str]:
    match = _PREFIX.match(text)
    return (int(match.group(1)), match.group(2)) if match else (None, text)


def _numbers(text: str, counts: tuple[int, ...], form: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}") from None
    if len(values) not in counts:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}")
    return values


def parse_point(text: str) -> tuple[int, int, float, float, int]:
    """'[K:]T,X,Y[,L]' -> (object, frame, x, y, label)."""
    form = "[K:]T,X,Y[,L] (object K, frame T, pixels X,Y, label L 1 or 0)"
    obj, rest = _split_prefix(text)
    values = _numbers(rest, (3, 4), form)
    label = values[3] if len(values) == 4 else 1.0
    if label not in (0.0, 1.0) or not values[0].is_integer():
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}")
    return (obj or 1), int(values[0]), values[1], values[2], int(label)


def parse_box(text: str) -> tuple[int, int, list[float]]:
    """'[K:]T,X0,Y0,X1,Y1' -> (object, frame, XYXY box)."""
    form = "[K:]T,X0,Y0,X1,Y1 (object K, frame T, XYXY pixels)"
    obj, rest = _split_prefix(text)
    values = _numbers(rest, (5,), form)
    if not values[0].is_integer():
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}")
    x0, y0, x1, y1 = values[1:]
    if x1 < x0 or y1 < y0:
        raise argparse.ArgumentTypeError(f"box must have X1 >= X0 and Y1 >= Y0 (XYXY), got {text!r}")
    return (obj or 1), int(values[0]), [x0, y0, x1, y1]


def parse_mask(text: str) -> tuple[int | None, str]:
    """'[T:]FILE.png' -> (frame or None, file)."""
    frame, rest = _split_prefix(text)
    if not rest.strip():
        raise argparse.ArgumentTypeError(f"expected [T:]FILE.png, got {text!r}")
    return frame, rest.strip()


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "track",
        "masks through a video: prompt objects on frames, propagate",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    parser.add_argument("video", help="a video file or a folder of frames (images in name order)")
    parser.add_argument(
        "--point",
        action="append",
        type=parse_point,
        default=None,
        metavar="[K:]T,X,Y[,L]",
        help="a click for object K (default 1) on frame T; L 1 foreground (default) or 0",
    )
    parser.add_argument(
        "--box",
        action="append",
        type=parse_box,
        default=None,
        metavar="[K:]T,X0,Y0,X1,Y1",
        help="a box (XYXY pixels) for object K (default 1) on frame T",
    )
    parser.add_argument(
        "--mask",
        action="append",
        type=parse_mask,
        default=None,
        metavar="[T:]FILE.png",
        help="a label map for frame T (each label an object)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument(
        "--keyframe-interval",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="run the model every N frames, optical flow in between (default 1: every frame; "
        "0: flow only after the prompted frames)",
    )
    parser.add_argument(
        "--flow", choices=("dis", "farneback"), default=None, help="optical flow (default dis)"
    )
    parser.add_argument(
        "--no-redetect", action="store_true", default=None, help="do not look for lost objects again"
    )
    parser.add_argument(
        "--overlay",
        choices=("video", "frames", "none"),
        default="video",
        help="overlay.mp4 (default), overlay/<frame>.jpg, or none",
    )
    parser.add_argument("--format", choices=("sa1b", "coco"), default="sa1b", help="per-frame json format")
    parser.add_argument(
        "--fps",
        type=positive_int,
        default=None,
        help="overlay video frame rate (default: the input's, else 24)",
    )
    add_model_options(parser)
    add_quiet_option(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from segany.video.frames import open_frames

    if not (args.point or args.box or args.mask):
        raise CliError(
            "give at least one prompt: --point [K:]T,X,Y[,L], --box [K:]T,X0,Y0,X1,Y1 or --mask FILE.png"
        )
    source = open_frames(args.video)  # before loading the model: a bad video fails fast
    out = output_dir(args.out)

    from segany.cli.models import resolve_device, resolve_model
    from segany.cli.track_outputs import TrackWriter
    from segany.video.settings import TrackerSettings
    from segany.video.sweep import track_all_frames
    from segany.video.video_predictor import VideoPredictor

    options: dict[str, Any] = {}
    if args.keyframe_interval is not None:
        options["keyframe_interval"] = args.keyframe_interval
    if args.flow is not None:
        options["flow_method"] = args.flow
    if args.no_redetect:
        options["redetect"] = False
    settings = TrackerSettings(**options)
    device = resolve_device(args.device)
    sam, description = resolve_model(args.model, device, args.arch)
    note(args, f"model {description} on {device}; {len(source)} frames of {source.size[1]}x{source.size[0]}")
    video = VideoPredictor(sam, source, settings)
    _add_prompts(video, args)
    writer = TrackWriter(out, source, args.overlay, args.format, args.fps)
    with progress_bar(args, total=len(source), unit="frame", desc="track") as bar:
        for result in track_all_frames(video):
            writer.write(result)
            bar.update(1)
    summary = writer.close()
    summary.update(model=description.to_dict(), settings=settings.to_dict(), video=str(args.video))
    write_json_file(summary, out / "track.json")
    write_settings(
        out,
        settings_document(
            "track", args, model=description.to_dict(), device=str(device), tracker=settings.to_dict()
        ),
    )
    print(f"tracked {len(video.object_ids)} object(s) through {len(source)} frames; masks in {out / 'masks'}")
    return 0


def _add_prompts(video: Any, args: argparse.Namespace) -> None:
    from segany.video.mask_io import read_label_png

    points: dict[tuple[int, int], list[tuple[float, float, int]]] = {}
    for obj, frame, x, y, label in args.point or []:
        points.setdefault((frame, obj), []).append((x, y, label))
    boxes: dict[tuple[int, int], list[float]] = {}
    for obj, frame, box in args.box or []:
        if (frame, obj) in boxes:
            raise CliError(f"two --box for object {obj} on frame {frame}: give each object its own K: prefix")
        boxes[(frame, obj)] = box
    for frame_spec, file in args.mask or []:
        frame = frame_spec if frame_spec is not None else _frame_of(video.source, Path(file))
        labels = read_label_png(file)
        if labels.shape != video.source.size:
            raise CliError(
                f"--mask {file} is {labels.shape[1]}x{labels.shape[0]} (WxH), the video's frames are "
                f"{video.source.size[1]}x{video.source.size[0]}"
            )
        objects = sorted(int(v) for v in set(labels.flat) if v)
        if not objects:
            raise CliError(f"--mask {file} is empty (no pixel above 0)")
        for obj in objects:
            video.add_mask(frame, obj, labels == obj)
    for key in sorted(set(points) | set(boxes)):
        frame, obj = key
        clicks = points.get(key, [])
        video.add_points(
            frame, obj, [c[:2] for c in clicks] or None, [c[2] for c in clicks] or None, box=boxes.get(key)
        )


def _frame_of(source: Any, file: Path) -> int:
    """The frame a mask file belongs to: a frame with the same stem, else the number in its name."""
    names = {source.frame_name(i): i for i in range(len(source))} if hasattr(source, "files") else {}
    if file.stem in names:
        return names[file.stem]
    digits = re.findall(r"\d+", file.stem)
    if not digits:
        raise CliError(f"--mask {file}: cannot tell its frame from the name; write --mask T:{file}")
    return int(digits[-1])
