"""`segany segment`: masks for points and boxes on one image, as PNGs, an overlay, cut-outs and a json.

Which masks come out:
- one `--point` alone is ambiguous: SAM's 3 candidates are computed and the best-scoring one is kept;
- any other prompt (several points, a box, a box with points): SAM's single output;
- `--multimask`: all 3 candidates (`mask_0..2`), the best marked in the json (one object only);
- several `--box`: one object per box, in one decoder pass (`SamPredictor.predict_boxes`); points cannot be
  combined with several boxes (they would apply to every box: run once per object instead).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from segany.cli.common import (
    CliError,
    add_model_options,
    add_quiet_option,
    note,
    output_dir,
    save_png,
    settings_document,
    subcommand_parser,
    write_json_file,
    write_settings,
)

EXAMPLES = """
  segany segment photo.jpg --point 220,140 --out out/           # best of 3 masks for one click
  segany segment photo.jpg --point 220,140 --point 300,90,0 --out out/  # a foreground and a background click
  segany segment photo.jpg --box 40,30,380,290 --out out/
  segany segment photo.jpg --box 10,10,200,200 --box 220,40,430,290 --out out/   # two objects
  segany segment photo.jpg --point 220,140 --multimask --out out/   # all 3 candidates
  segany embed photo.jpg --out emb/ && segany segment photo.jpg --embedding emb/photo.npz --point 5,9 --out out/
  (coordinates are pixels of the image; for a negative value write --point=-4,10)
"""


def parse_point(text: str) -> tuple[float, float, int]:
    """'X,Y' or 'X,Y,LABEL' (LABEL 1 foreground, default; 0 background) -> (x, y, label)."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"expected X,Y or X,Y,LABEL (pixels; LABEL 1 or 0), got {text!r}")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"X and Y must be numbers (pixels), got {text!r}") from None
    label = parts[2] if len(parts) == 3 else "1"
    if label not in ("0", "1"):
        raise argparse.ArgumentTypeError(
            f"LABEL must be 1 (foreground) or 0 (background), got {label!r} in {text!r}"
        )
    if not (np.isfinite(x) and np.isfinite(y)):
        raise argparse.ArgumentTypeError(f"X and Y must be finite, got {text!r}")
    return x, y, int(label)


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'X0,Y0,X1,Y1' (XYXY pixels) -> tuple."""
    parts = text.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected X0,Y0,X1,Y1 numbers (XYXY pixels), got {text!r}"
        ) from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 (XYXY pixels), got {text!r}")
    x0, y0, x1, y1 = values
    if x1 < x0 or y1 < y0:
        raise argparse.ArgumentTypeError(f"box must have X1 >= X0 and Y1 >= Y0 (XYXY), got {text!r}")
    return x0, y0, x1, y1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "segment",
        "masks for point / box prompts on one image",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    parser.add_argument("image", help="image file")
    parser.add_argument(
        "--point",
        action="append",
        type=parse_point,
        metavar="X,Y[,LABEL]",
        default=None,
        help="a click in pixels; LABEL 1 = foreground (default), 0 = background; repeat for more points",
    )
    parser.add_argument(
        "--box",
        action="append",
        type=parse_box,
        metavar="X0,Y0,X1,Y1",
        default=None,
        help="a box (XYXY pixels); repeat for several objects",
    )
    parser.add_argument(
        "--multimask",
        action="store_true",
        default=None,
        help="write SAM's 3 candidate masks, best marked",
    )
    parser.add_argument(
        "--embedding",
        metavar="FILE",
        default=None,
        help="a .npz from `segany embed` for this image: skips the image encoder (its model is used by default)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    add_model_options(parser)
    add_quiet_option(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from segany.embedding_file import ImageEmbedding
    from segany.io import load_image

    points: list[tuple[float, float, int]] = args.point or []
    boxes: list[tuple[float, float, float, float]] = args.box or []
    _check_prompts(points, boxes, bool(args.multimask))
    image = load_image(args.image)  # before importing torch: bad input fails fast
    out = output_dir(args.out)

    from segany.cli.models import resolve_device, resolve_model
    from segany.predictor import SamPredictor

    embedding = None
    if args.embedding is not None:
        try:
            embedding = ImageEmbedding.load(args.embedding)
        except (FileNotFoundError, ValueError) as exc:
            raise CliError(f"--embedding: {exc}") from exc
        if tuple(embedding.original_size) != image.shape[:2]:
            raise CliError(
                f"--embedding {args.embedding} was made for a {embedding.original_size[1]}x"
                f"{embedding.original_size[0]} (WxH) image, but {args.image} is {image.shape[1]}x{image.shape[0]}: "
                "pass the embedding of this image"
            )
    spec = args.model if args.model is not None or embedding is None else (embedding.model or None)
    device = resolve_device(args.device)
    sam, description = resolve_model(spec, device, args.arch)
    note(args, f"model {description} on {device}")
    predictor = SamPredictor(sam)
    if embedding is not None:
        if embedding.model and embedding.model != description.spec:
            raise CliError(
                f"--embedding {args.embedding} was made with model {embedding.model!r}, this run uses "
                f"{description.spec!r}: pass --model {embedding.model} (or re-run `segany embed`)"
            )
        predictor.set_image_embedding(embedding)
    else:
        predictor.set_image(image)
    masks, scores, selection, best = _predict(predictor, points, boxes, bool(args.multimask))
    stem = Path(args.image).stem
    document = _write_outputs(out, stem, image, masks, scores, best, points, boxes)
    document.update(
        image={"path": str(args.image), "width": int(image.shape[1]), "height": int(image.shape[0])},
        model=description.to_dict(),
        multimask=bool(args.multimask),
        selection=selection,
    )
    result = write_json_file(dict(sorted(document.items())), out / f"{stem}.json")
    write_settings(
        out,
        settings_document(
            "segment", args, model=description.to_dict(), device=str(device), selection=selection
        ),
    )
    print(f"wrote {len(masks)} mask(s) to {out} (best score {float(scores[best]):.3f}); details in {result}")
    return 0


def _check_prompts(points: list[Any], boxes: list[Any], multimask: bool) -> None:
    if not points and not boxes:
        raise CliError("give at least one prompt: --point X,Y[,LABEL] or --box X0,Y0,X1,Y1")
    if len(boxes) > 1 and points:
        raise CliError(
            "--point can be combined with one --box only (with several boxes the points would apply to every "
            "object); run segment once per object"
        )
    if len(boxes) > 1 and multimask:
        raise CliError("--multimask applies to one object: give one --box (or points only)")


def _predict(
    predictor: Any, points: list[tuple[float, float, int]], boxes: list[Any], multimask: bool
) -> tuple[np.ndarray, np.ndarray, str, int]:
    """(masks K x H x W bool, scores K, how they were chosen, index of the best)."""
    if len(boxes) > 1:
        masks, scores, _ = predictor.predict_boxes(
            np.asarray(boxes, dtype=np.float64), multimask_output=False
        )
        return masks[:, 0], scores[:, 0], "one mask per box", int(np.argmax(scores[:, 0]))
    coords = np.asarray([p[:2] for p in points], dtype=np.float64) if points else None
    labels = np.asarray([p[2] for p in points], dtype=np.int64) if points else None
    box = np.asarray(boxes[0], dtype=np.float64) if boxes else None
    ambiguous = len(points) == 1 and not boxes
    masks, scores, _ = predictor.predict(coords, labels, box, multimask_output=multimask or ambiguous)
    best = int(np.argmax(scores))
    if multimask:
        return masks, scores, "all 3 candidates", best
    if ambiguous:
        return masks[best : best + 1], scores[best : best + 1], "best of 3 candidates", 0
    return masks, scores, "single output", 0


def _write_outputs(
    out: Path,
    stem: str,
    image: np.ndarray,
    masks: np.ndarray,
    scores: np.ndarray,
    best: int,
    points: list[tuple[float, float, int]],
    boxes: list[Any],
) -> dict[str, Any]:
    from segany.cli.drawing import cutout, draw_overlay, mask_png
    from segany.formats import mask_bbox_xywh

    records = []
    for index, mask in enumerate(masks):
        mask_file = save_png(mask_png(mask), out / f"{stem}_mask_{index}.png")
        cutout_file = save_png(cutout(image, mask), out / f"{stem}_cutout_{index}.png")
        area = int(np.count_nonzero(mask))
        x, y, w, h = mask_bbox_xywh(mask)
        records.append(
            {
                "index": index,
                "mask": mask_file.name,
                "cutout": cutout_file.name,
                "score": float(scores[index]),
                "best": index == best,
                "area": area,
                "box_xyxy": [x, y, x + w, y + h] if area else None,
                "box_xywh": [x, y, w, h] if area else None,
                "box_prompt": list(boxes[index]) if len(boxes) > 1 else None,
            }
        )
    # With several candidates of one object the overlay shows the best; with several boxes every object.
    shown = list(masks) if len(boxes) > 1 else [masks[best]]
    overlay = save_png(draw_overlay(image, shown, points, boxes), out / f"{stem}_overlay.png")
    return {
        "masks": records,
        "best_index": best,
        "overlay": overlay.name,
        "prompts": {
            "points": [{"x": x, "y": y, "label": label} for x, y, label in points],
            "boxes_xyxy": [list(box) for box in boxes],
        },
    }
