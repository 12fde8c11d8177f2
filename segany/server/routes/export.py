"""`POST /api/images/{id}/export`: accepted objects as a download in one of the formats."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from segany.formats import ImageInfo, MaskFormatError
from segany.formats.masks_codec import rle_runs
from segany.server import exports
from segany.server.errors import ApiError
from segany.server.routes.common import Image, State
from segany.server.schemas import ExportIn

router = APIRouter()


@router.post(
    "/api/images/{id}/export",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def export(state: State, entry: Image, body: ExportIn) -> Response:
    objects = []
    for position, obj in enumerate(body.objects):
        rle = {"size": list(obj.size), "counts": obj.counts}
        if tuple(obj.size) != (entry.height, entry.width):
            raise ApiError(
                422,
                f"objects[{position}].size is {obj.size[0]}x{obj.size[1]} (HxW) but the image is "
                f"{entry.height}x{entry.width}",
                f"objects.{position}.size",
            )
        try:
            rle_runs(rle, where=f"objects[{position}]")  # validates the runs before any writer decodes them
        except (MaskFormatError, TypeError) as exc:
            raise ApiError(422, str(exc), f"objects.{position}.counts") from exc
        objects.append(exports.ExportObject(rle, obj.label, obj.score))
    if body.index is not None and body.index >= len(objects):
        raise ApiError(
            422, f"index must be below the number of objects ({len(objects)}), got {body.index}", "index"
        )
    image = ImageInfo(entry.name, entry.width, entry.height)
    if body.format == "cutout":
        result = exports.export_cutout(objects, image, state.images.load_pixels(entry), body.index)
    elif body.format == "coco":
        result = exports.export_coco(objects, image)
    elif body.format == "sa1b":
        result = exports.export_sa1b(objects, image)
    elif body.format == "yolo":
        result = exports.export_yolo(objects, image)
    else:
        result = exports.export_masks_png(objects, image)
    disposition = f'attachment; filename="{result.file_name}"'
    return Response(result.data, media_type=result.media_type, headers={"Content-Disposition": disposition})
