"""The dashboard's numbers, computed from the annotation events alone (the event log is the record of work).

Events are replayed in order (time, then id):
- a mask is born by `accept` (manual), `import`, or `prefilled` / `automatic` (a model's proposal);
- `keep` and `edit` make it accepted (an edit of a model's mask is a fix), `reject` and `delete` reject it.

Stages of a person's mask (the paper's section 4):
- `assisted-manual`: a manual accept on an image no model had pre-filled before it;
- `semi-automatic`: a manual accept on an image that was pre-filled earlier (the annotator adds what the
  model missed);
- `fix`: an edit of a pre-filled or automatic mask (its brush strokes and time).
Seconds and clicks per mask are means over the masks whose event carries the number (client- or
server-measured); `model_version_id` is the model that assisted (in the event's payload).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from segany.engine.models import AnnotationEvent, Image, ModelVersion

BIRTHS = {"accept": "manual", "import": "manual", "prefilled": "prefilled", "automatic": "automatic"}
STAGES = ("assisted-manual", "semi-automatic", "fix")
MODEL_SOURCES = ("prefilled", "automatic")


@dataclass
class _Mask:
    image_id: int | None
    source: str
    status: str  # proposed / accepted / rejected
    fixed: bool = False
    kept: bool = False


@dataclass
class _Timing:
    seconds: list[float] = field(default_factory=list)
    clicks: list[int] = field(default_factory=list)
    masks: int = 0

    def add(self, payload: dict[str, Any]) -> None:
        self.masks += 1
        if isinstance(payload.get("seconds"), (int, float)):
            self.seconds.append(float(payload["seconds"]))
        if isinstance(payload.get("clicks"), int):
            self.clicks.append(int(payload["clicks"]))

    def summary(self) -> dict[str, Any]:
        return {
            "masks": self.masks,
            "seconds_per_mask": sum(self.seconds) / len(self.seconds) if self.seconds else None,
            "clicks_per_mask": sum(self.clicks) / len(self.clicks) if self.clicks else None,
            "timed_masks": len(self.seconds),
        }


def dashboard(db: Session, project_id: int) -> dict[str, Any]:
    """Masks per image, seconds and clicks per mask by stage and model version, acceptance rates."""
    events = db.execute(
        select(
            AnnotationEvent.kind,
            AnnotationEvent.image_id,
            AnnotationEvent.annotation_id,
            AnnotationEvent.payload,
        )
        .where(AnnotationEvent.project_id == project_id)
        .order_by(AnnotationEvent.at, AnnotationEvent.id)
    ).all()
    masks: dict[int, _Mask] = {}
    prefilled_images: set[int] = set()
    by_stage: dict[str, _Timing] = defaultdict(_Timing)
    by_version: dict[tuple[str, int | None], _Timing] = defaultdict(_Timing)
    event_counts: dict[str, int] = defaultdict(int)
    for kind, image_id, annotation_id, payload in events:
        payload = payload or {}
        event_counts[kind] += 1
        if kind in ("prefill", "prefilled") and image_id is not None:
            prefilled_images.add(image_id)  # the job's per-image mark, or one of its masks
        if annotation_id is None:
            continue  # prompts, job marks: no mask of their own
        if kind in BIRTHS:
            source = payload.get("source") or BIRTHS[kind]
            status = "accepted" if kind in ("accept", "import") else "proposed"
            masks[annotation_id] = _Mask(image_id, source, status)
            if kind == "accept":
                stage = "semi-automatic" if image_id in prefilled_images else "assisted-manual"
                by_stage[stage].add(payload)
                by_version[(stage, payload.get("model_version_id"))].add(payload)
            continue
        mask = masks.get(annotation_id)
        if mask is None:
            continue  # born before the event log (cannot happen through the API)
        if kind in ("keep", "edit"):
            if kind == "edit" and mask.source in MODEL_SOURCES and mask.status == "proposed":
                mask.fixed = True
                by_stage["fix"].add(payload)
                by_version[("fix", payload.get("model_version_id"))].add(payload)
            elif kind == "keep":
                mask.kept = True
            mask.status = "accepted"
        elif kind in ("reject", "delete"):
            mask.status = "rejected"
    return _answer(db, project_id, masks, by_stage, by_version, event_counts)


def _answer(
    db: Session,
    project_id: int,
    masks: dict[int, _Mask],
    by_stage: dict[str, _Timing],
    by_version: dict[tuple[str, int | None], _Timing],
    event_counts: dict[str, int],
) -> dict[str, Any]:
    images = db.execute(
        select(Image.id, Image.file_name).where(Image.project_id == project_id).order_by(Image.id)
    ).all()
    accepted_per_image: dict[int | None, int] = defaultdict(int)
    for mask in masks.values():
        if mask.status == "accepted":
            accepted_per_image[mask.image_id] += 1
    per_image = [
        {"image_id": image_id, "file_name": name, "accepted": accepted_per_image.get(image_id, 0)}
        for image_id, name in images
    ]
    accepted = sum(accepted_per_image.get(image_id, 0) for image_id, _ in images)
    acceptance = {}
    for source in MODEL_SOURCES:
        mine = [mask for mask in masks.values() if mask.source == source]
        decided = [mask for mask in mine if mask.status != "proposed"]
        kept = sum(mask.status == "accepted" for mask in decided)
        acceptance[source] = {
            "made": len(mine),
            "proposed": len(mine) - len(decided),
            "decided": len(decided),
            "kept": sum(mask.kept and mask.status == "accepted" for mask in decided),
            "fixed": sum(mask.fixed and mask.status == "accepted" for mask in decided),
            "accepted": kept,
            "rejected": len(decided) - kept,
            "rate": kept / len(decided) if decided else None,
        }
    names: dict[int, str] = {
        row.id: row.name for row in db.execute(select(ModelVersion.id, ModelVersion.name))
    }
    version_ids = sorted({version for _, version in by_version}, key=lambda v: (v is None, v or 0))
    return {
        "images": len(images),
        "accepted_masks": accepted,
        "masks_per_image": accepted / len(images) if images else None,
        "per_image": per_image,
        "by_stage": [{"stage": stage, **by_stage[stage].summary()} for stage in STAGES if stage in by_stage],
        "by_model_version": [
            {
                "stage": stage,
                "model_version_id": version,
                "model_version": names.get(version) if version is not None else None,
                **timing.summary(),
            }
            for stage in STAGES
            for version in version_ids
            if (timing := by_version.get((stage, version))) is not None
        ],
        "model_versions": [
            {"id": version, "name": names.get(version) if version is not None else None}
            for version in version_ids
        ],
        "acceptance": acceptance,
        "events": dict(sorted(event_counts.items())),
    }
