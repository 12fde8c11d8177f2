"""/hover: the best candidate's mask as binary RLE, equal to SamPredictor's for one positive point; errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_testing import CSRF, FIXTURES_DIR, decode_rle, post_json

from segany.io import load_image
from segany.modeling.sam import Sam
from segany.predictor import SamPredictor


@pytest.fixture(scope="module")
def chelsea(small_sam: Sam) -> SamPredictor:
    predictor = SamPredictor(small_sam)
    predictor.set_image(load_image(FIXTURES_DIR / "chelsea.jpg"))
    return predictor


def served_mask(response: Any) -> np.ndarray:
    """The binary answer decoded by pycocotools (its counts read here with numpy, not by segany)."""
    height, width = (int(v) for v in response.headers["X-Mask-Size"].split(","))
    counts = np.frombuffer(response.content, dtype="<u4")
    assert int(counts.sum()) == height * width
    return decode_rle({"size": [height, width], "counts": counts.tolist()})


@pytest.mark.parametrize("point", [(220.0, 140.0), (60.5, 40.25), (0.0, 0.0), (450.0, 299.0), (300.7, 250.2)])
def test_hover_is_the_predictors_best_candidate(
    client: TestClient, image_ids: dict[str, str], chelsea: SamPredictor, point: tuple[float, float]
) -> None:
    response = post_json(
        client, f"/api/images/{image_ids['chelsea.jpg']}/hover", {"x": point[0], "y": point[1]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    masks, scores, _ = chelsea.predict(np.array([point]), np.array([1]), multimask_output=True)
    best = int(np.argmax(scores))
    assert response.headers["X-Mask-Size"] == "300,451"
    assert int(response.headers["X-Candidate"]) == best
    assert float(response.headers["X-Score"]) == pytest.approx(float(scores[best]), abs=1e-5)
    np.testing.assert_array_equal(served_mask(response), masks[best])
    stages = {part.split(";")[0].strip() for part in response.headers["Server-Timing"].split(",")}
    assert {"decode", "upscale", "rle", "total"} <= stages


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"x": 10}, "y"),
        ({"x": "left", "y": 3}, "x"),
        ({"x": 1e9, "y": 3}, "x"),
        ({"x": 3, "y": -400}, "y"),
        ({"x": 3, "y": 4, "z": 5}, "z"),
    ],
)
def test_malformed_hover_is_422_naming_the_field(
    client: TestClient, image_ids: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = post_json(client, f"/api/images/{image_ids['chelsea.jpg']}/hover", body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert "\n" not in response.json()["detail"]


def test_hover_unknown_image_is_404_and_missing_csrf_is_403(
    client: TestClient, image_ids: dict[str, str]
) -> None:
    assert post_json(client, "/api/images/ffffffffffffffff/hover", {"x": 1, "y": 1}).status_code == 404
    refused = client.post(f"/api/images/{image_ids['chelsea.jpg']}/hover", json={"x": 1, "y": 1})
    assert refused.status_code == 403
    assert (
        client.post(
            f"/api/images/{image_ids['chelsea.jpg']}/hover", json={"x": 1, "y": 1}, headers=CSRF
        ).status_code
        == 200
    )


def test_concurrent_hovers_on_two_images_match_sequential(
    client: TestClient, image_ids: dict[str, str]
) -> None:
    """Several tabs hovering at once: the shared, prepared predictors give each request its own answer."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [
        (image_ids[name], float(x), float(y))
        for name in ("chelsea.jpg", "astronaut.jpg")
        for x, y in ((30, 40), (150, 120), (220, 200), (280, 90))
    ]

    def ask(job: tuple[str, float, float]) -> bytes:
        image_id, x, y = job
        response = post_json(client, f"/api/images/{image_id}/hover", {"x": x, "y": y})
        assert response.status_code == 200
        return bytes(response.content)

    sequential = [ask(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(ask, jobs * 2))
    assert concurrent == sequential * 2
    assert len(set(sequential)) > 4  # different points, different masks: not a trivial match
