"""Reading the engine's work back: review queue, precision per threshold, the dashboard's numbers."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from segany.engine.errors import Invalid
from segany.engine.models import Annotation, Image


def image_annotations(db: Session, image_id: int, status: str | None = None) -> list[Annotation]:
    query = select(Annotation).where(Annotation.image_id == image_id)
    if status is not None:
        query = query.where(Annotation.status == status)
    return list(db.scalars(query.order_by(Annotation.id)))


def sample_queue(db: Session, project_id: int, count: int, seed: int = 0) -> list[Annotation]:
    """`count` undecided automatic masks drawn uniformly at random (seeded), for review."""
    ids = list(
        db.scalars(
            select(Annotation.id)
            .where(
                Annotation.project_id == project_id,
                Annotation.source == "automatic",
                Annotation.status == "proposed",
            )
            .order_by(Annotation.id)
        )
    )
    chosen = sorted(random.Random(seed).sample(ids, min(count, len(ids))))
    return [
        row for row in db.scalars(select(Annotation).where(Annotation.id.in_(chosen)).order_by(Annotation.id))
    ]


def parse_thresholds(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Invalid(
            f"thresholds must be comma-separated numbers in [0, 1], got {text!r}", "thresholds"
        ) from None
    if not values or any(not 0.0 <= value <= 1.0 for value in values):
        raise Invalid(f"thresholds must be comma-separated numbers in [0, 1], got {text!r}", "thresholds")
    return sorted(values)


def precision_by_threshold(
    db: Session, project_id: int, thresholds: list[float], source: str = "automatic"
) -> list[dict[str, Any]]:
    """Among reviewed `source` masks with predicted IoU >= t: how many were kept (precision at t)."""
    rows = db.execute(
        select(Annotation.predicted_iou, Annotation.status).where(
            Annotation.project_id == project_id,
            Annotation.source == source,
            Annotation.status.in_(("accepted", "rejected")),
        )
    ).all()
    answer = []
    for threshold in thresholds:
        decided = [status for iou, status in rows if iou is not None and iou >= threshold]
        kept = sum(status == "accepted" for status in decided)
        answer.append(
            {
                "threshold": threshold,
                "reviewed": len(decided),
                "kept": kept,
                "precision": kept / len(decided) if decided else None,
            }
        )
    return answer


def project_stats(db: Session, project_id: int) -> dict[str, Any]:
    """Masks per image; seconds and clicks per accepted manual mask by model version; acceptance rates of
    pre-filled and automatic masks (decided ones only)."""
    images = db.scalar(select(func.count()).select_from(Image).where(Image.project_id == project_id)) or 0
    rows = db.execute(
        select(
            Annotation.source,
            Annotation.status,
            Annotation.model_version_id,
            Annotation.seconds,
            Annotation.clicks,
        ).where(Annotation.project_id == project_id)
    ).all()
    accepted = [row for row in rows if row.status == "accepted"]
    timing: dict[Any, list[tuple[float | None, int | None]]] = defaultdict(list)
    for row in accepted:
        if row.source == "manual" and row.clicks is not None:
            timing[row.model_version_id].append((row.seconds, row.clicks))
    per_version = []
    for version, values in sorted(timing.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        seconds = [value for value, _ in values if value is not None]
        per_version.append(
            {
                "model_version_id": version,
                "masks": len(values),
                "seconds_per_mask": sum(seconds) / len(seconds) if seconds else None,
                "clicks_per_mask": sum(clicks or 0 for _, clicks in values) / len(values),
            }
        )
    acceptance = {}
    for source in ("prefilled", "automatic"):
        decided = [row for row in rows if row.source == source and row.status != "proposed"]
        kept = sum(row.status == "accepted" for row in decided)
        acceptance[source] = {
            "decided": len(decided),
            "kept": kept,
            "rate": kept / len(decided) if decided else None,
            "proposed": sum(row.source == source and row.status == "proposed" for row in rows),
        }
    return {
        "images": images,
        "accepted_masks": len(accepted),
        "masks_per_image": len(accepted) / images if images else None,
        "by_source": {
            source: sum(row.source == source for row in accepted)
            for source in ("manual", "prefilled", "automatic")
        },
        "manual_time_by_model_version": per_version,
        "acceptance": acceptance,
    }
