"""One entry point for every output format, so callers (CLI, library) need not know the format modules.

Formats (``FORMATS``):

- ``"sa1b"``: one json file per image (``sa1b``).
- ``"coco"``: one COCO instances json for all images (``coco``).
- ``"png"``: one folder per image with ``<i>.png`` masks and ``metadata.csv``, as the official ``amg.py``
  (``png_csv``).
- ``"yolo"``: one YOLO-seg ``.txt`` per image (``yolo``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from segany.formats.coco import ImageRecords, read_coco, write_coco
from segany.formats.files import PathLike
from segany.formats.png_csv import read_png_csv, write_png_csv
from segany.formats.records import ImageInfo
from segany.formats.sa1b import read_sa1b, write_sa1b
from segany.formats.yolo import read_yolo, write_yolo

FORMATS: Final = ("sa1b", "coco", "png", "yolo")
COCO_FILE_NAME: Final = "annotations.json"
_SUFFIXES: Final = {"sa1b": ".json", "png": "", "yolo": ".txt"}


def write_records(
    records: Sequence[Mapping[str, Any]],
    image_info: ImageInfo | Mapping[str, Any],
    out: PathLike,
    fmt: str,
    polygons: bool = False,
    class_id: int = 0,
) -> Path:
    """Write one image's generator records in format ``fmt``; returns what was written.

    Args:
        records: ``SamAutomaticMaskGenerator.generate`` output (any ``output_mode``).
        image_info: ImageInfo or a dict with file_name, width, height (and image_id).
        out: a json file ("sa1b", "coco"), a folder ("png") or a ``.txt`` file ("yolo").
        fmt: one of ``FORMATS``.
        polygons: "coco" only: polygons instead of RLE.
        class_id: "yolo" only: the class written on every line.
    """
    _check(fmt, polygons, class_id)
    if fmt == "sa1b":
        return write_sa1b(records, image_info, out)
    if fmt == "coco":
        return write_coco([(image_info, records)], out, polygons=polygons)
    if fmt == "png":
        return write_png_csv(records, image_info, out)
    return write_yolo(records, image_info, out, class_id=class_id)


def write_dataset(
    items: Iterable[ImageRecords], out_dir: PathLike, fmt: str, polygons: bool = False, class_id: int = 0
) -> list[Path]:
    """Write ``(image_info, records)`` pairs for many images under ``out_dir``; returns the paths written.

    "coco" writes ``out_dir/annotations.json``; the others write
    ``dataset_output_path(out_dir, file_name, fmt)`` per image. SA-1B annotation ids keep counting across
    images, as in the SA-1B release.

    Raises:
        ValueError: two images would write the same output (same file stem), or a bad fmt / option.
    """
    _check(fmt, polygons, class_id)
    folder = Path(out_dir)
    if fmt == "coco":
        return [write_coco(items, folder / COCO_FILE_NAME, polygons=polygons)]
    written: dict[Path, str] = {}
    next_id = 1
    for image_info, records in items:
        image = ImageInfo.coerce(image_info)
        target = dataset_output_path(folder, image.file_name, fmt)
        if target in written:
            raise ValueError(
                f"images {written[target]!r} and {image.file_name!r} would both be written to {target}; "
                "give them distinct file stems"
            )
        written[target] = image.file_name
        if fmt == "sa1b":
            write_sa1b(records, image, target, first_id=next_id)
            next_id += len(records)
        elif fmt == "png":
            write_png_csv(records, image, target)
        else:
            write_yolo(records, image, target, class_id=class_id)
    return list(written)


def dataset_output_path(out_dir: PathLike, file_name: str, fmt: str) -> Path:
    """Where ``write_dataset`` puts one image's output: ``out_dir/<stem>.json``, ``<stem>/`` or
    ``<stem>.txt``."""
    if fmt not in _SUFFIXES:
        raise ValueError(
            f"fmt must be one of {tuple(_SUFFIXES)} (COCO has one file for all images), got {fmt!r}"
        )
    return Path(out_dir) / f"{Path(file_name).stem}{_SUFFIXES[fmt]}"


def read_records(
    path: PathLike,
    fmt: str,
    output_mode: str = "binary_mask",
    image_size: tuple[int, int] | None = None,
) -> list[tuple[ImageInfo, list[dict[str, Any]]]]:
    """Read records back: a list of (image info, records), one entry per image (several only for "coco").

    Args:
        path: what ``write_records`` wrote for ``fmt``.
        fmt: one of ``FORMATS``.
        output_mode: form of each ``segmentation``: "binary_mask" (H x W bool), "coco_rle" or
            "uncompressed_rle".
        image_size: (H, W); required for "yolo" (the file does not store it), optional for "png".
    """
    _check(fmt, False, 0)
    if fmt == "sa1b":
        return [read_sa1b(path, output_mode)]
    if fmt == "coco":
        return read_coco(path, output_mode)
    if fmt == "png":
        return [read_png_csv(path, output_mode, image_size)]
    if image_size is None:
        raise ValueError(
            "image_size (H, W) is required to read fmt='yolo': label files do not store the image size"
        )
    return [read_yolo(path, image_size, output_mode)]


def _check(fmt: str, polygons: bool, class_id: int) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if polygons and fmt != "coco":
        raise ValueError(f"polygons=True applies to fmt='coco' only, got fmt={fmt!r}")
    if class_id != 0 and fmt != "yolo":
        raise ValueError(f"class_id applies to fmt='yolo' only, got fmt={fmt!r}")
