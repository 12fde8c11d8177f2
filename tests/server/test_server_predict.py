"""/predict: masks and scores equal SamPredictor's for the same prompts; refinement; every error case."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_testing import CSRF, FIXTURES_DIR, decode_rle, post_json

from segany.io import load_image
from segany.modeling.sam import Sam
from segany.predictor import SamPredictor


@pytest.fixture(scope="module")
def reference(small_sam: Sam) -> dict[str, SamPredictor]:
    """An independent predictor per gallery photo, set from the image itself."""
    predictors = {}
    for name in ("chelsea.jpg", "astronaut.jpg"):
        predictor = SamPredictor(small_sam)
        predictor.set_image(load_image(FIXTURES_DIR / name))
        predictors[name] = predictor
    return predictors


PROMPTS: list[dict[str, Any]] = [
    {"points": [[220, 140]], "labels": [1]},  # hover
    {"points": [[220, 140], [60, 40]], "labels": [1, 0], "multimask": False},
    {"box": [120, 40, 330, 290]},
    {"points": [[220, 140]], "labels": [1], "box": [120, 40, 330, 290], "multimask": False},
]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_predict_equals_the_predictor(
    client: TestClient, image_ids: dict[str, str], reference: dict[str, SamPredictor], prompt: dict[str, Any]
) -> None:
    response = post_json(client, f"/api/images/{image_ids['chelsea.jpg']}/predict", prompt)
    assert response.status_code == 200, response.json()
    body = response.json()
    masks, scores, _ = reference["chelsea.jpg"].predict(
        point_coords=np.array(prompt["points"]) if "points" in prompt else None,
        point_labels=np.array(prompt["labels"]) if "labels" in prompt else None,
        box=np.array(prompt["box"]) if "box" in prompt else None,
        multimask_output=prompt.get("multimask", True),
    )
    assert (body["width"], body["height"]) == (451, 300)
    assert any(0 < mask.sum() < mask.size for mask in masks)  # a real mask, not a trivial match
    assert len(body["masks"]) == len(masks) == (3 if prompt.get("multimask", True) else 1)
    for served, expected in zip(body["masks"], masks):
        assert served["size"] == [300, 451]
        np.testing.assert_array_equal(decode_rle(served), expected)
    np.testing.assert_allclose(body["scores"], scores, rtol=0, atol=1e-5)
    assert body["best"] == int(np.argmax(scores))


def test_previous_logits_refine_as_mask_input(
    client: TestClient, image_ids: dict[str, str], reference: dict[str, SamPredictor]
) -> None:
    url = f"/api/images/{image_ids['chelsea.jpg']}/predict"
    first = post_json(client, url, {"points": [[220, 140]], "labels": [1]}).json()
    prompt = {"points": [[220, 140], [400, 60]], "labels": [1, 0], "multimask": False}
    second = post_json(
        client, url, {**prompt, "previous": {"prediction_id": first["prediction_id"], "index": 2}}
    )
    assert second.status_code == 200, second.json()
    predictor = reference["chelsea.jpg"]
    _, _, logits = predictor.predict(np.array([[220, 140]]), np.array([1]), multimask_output=True)
    masks, scores, _ = predictor.predict(
        np.array(prompt["points"]),
        np.array(prompt["labels"]),
        mask_input=logits[2][None],
        multimask_output=False,
    )
    np.testing.assert_array_equal(decode_rle(second.json()["masks"][0]), masks[0])
    np.testing.assert_allclose(second.json()["scores"], scores, atol=1e-5)


def test_previous_unknown_expired_or_of_another_image_is_409(
    small_sam: Sam, client: TestClient, image_ids: dict[str, str], gallery_dir: Any, tmp_path: Any
) -> None:
    chelsea = f"/api/images/{image_ids['chelsea.jpg']}/predict"
    astronaut = f"/api/images/{image_ids['astronaut.jpg']}/predict"
    hover = {"points": [[100, 100]], "labels": [1]}
    unknown = post_json(client, chelsea, {**hover, "previous": {"prediction_id": "nope", "index": 0}})
    assert unknown.status_code == 409 and unknown.json()["field"] == "previous.prediction_id"
    other = post_json(client, astronaut, hover).json()["prediction_id"]
    crossed = post_json(client, chelsea, {**hover, "previous": {"prediction_id": other, "index": 0}})
    assert crossed.status_code == 409
    from server_testing import make_client

    # One prediction's logits (3 x 128 x 128 float32) fill the bound: the previous one expires.
    with make_client(
        small_sam, tmp_path, images_dir=gallery_dir, prediction_cache_bytes=3 * 128 * 128 * 4
    ) as c:
        url = chelsea
        old = post_json(c, url, hover).json()["prediction_id"]
        newer = post_json(c, url, hover).json()["prediction_id"]
        assert (
            post_json(c, url, {**hover, "previous": {"prediction_id": newer, "index": 1}}).status_code == 200
        )
        expired = post_json(c, url, {**hover, "previous": {"prediction_id": old, "index": 0}})
        assert expired.status_code == 409 and "expired" in expired.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": [[1, 2]], "labels": [1, 1]}, "labels"),
        ({"points": [[1, 2]], "labels": [2]}, "labels.0"),
        ({"points": [[1]], "labels": [1]}, "points.0.1"),
        ({"points": [[1, 2, 3]], "labels": [1]}, "points.0"),
        ({"points": "here", "labels": [1]}, "points"),
        ({"box": [1, 2, 3]}, "box.3"),
        ({"box": [300, 20, 100, 200]}, "box"),  # x1 < x0: the predictor's check
        ({"points": [[1e7, 20]], "labels": [1]}, "points"),  # far outside: the predictor's check
        ({"multimask": "maybe"}, "multimask"),
        ({"previous": {"prediction_id": "x"}}, "previous.index"),
        ({"previous": {"prediction_id": "x", "index": -1}}, "previous.index"),
        ({"pts": []}, "pts"),
    ],
)
def test_malformed_prompt_is_422_naming_the_field(
    client: TestClient, image_ids: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = post_json(client, f"/api/images/{image_ids['chelsea.jpg']}/predict", body)
    assert response.status_code == 422, response.json()
    assert response.json()["field"] == field
    assert "\n" not in response.json()["detail"]


def test_previous_index_out_of_range_is_422(client: TestClient, image_ids: dict[str, str]) -> None:
    url = f"/api/images/{image_ids['chelsea.jpg']}/predict"
    single = post_json(client, url, {"points": [[50, 50]], "labels": [1], "multimask": False}).json()
    response = post_json(client, url, {"previous": {"prediction_id": single["prediction_id"], "index": 1}})
    assert response.status_code == 422 and response.json()["field"] == "previous.index"


def test_invalid_json_is_422_naming_the_body(client: TestClient, image_ids: dict[str, str]) -> None:
    response = client.post(
        f"/api/images/{image_ids['chelsea.jpg']}/predict",
        content=b'{"points": [[1, 2]',
        headers={**CSRF, "Content-Type": "application/json"},
    )
    assert response.status_code == 422 and response.json()["field"] == "body"


def test_unknown_image_is_404_and_missing_csrf_is_403(client: TestClient, image_ids: dict[str, str]) -> None:
    hover = {"points": [[10, 10]], "labels": [1]}
    assert post_json(client, "/api/images/ffffffffffffffff/predict", hover).status_code == 404
    refused = client.post(f"/api/images/{image_ids['chelsea.jpg']}/predict", json=hover)
    assert refused.status_code == 403 and "X-Segany-Client" in refused.json()["detail"]


def test_image_broken_after_listing_is_400_and_server_stays_up(small_sam: Sam, tmp_path: Any) -> None:
    from server_testing import make_client

    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "photo.jpg"
    data = (FIXTURES_DIR / "chelsea.jpg").read_bytes()
    photo.write_bytes(data)
    with make_client(small_sam, tmp_path / "cache", images_dir=folder) as client:
        image_id = client.get("/api/images").json()[0]["id"]
        photo.write_bytes(data[:3000])  # truncated after the gallery listed it
        response = post_json(client, f"/api/images/{image_id}/predict", {"points": [[5, 5]], "labels": [1]})
        assert response.status_code == 400 and "truncated" in response.json()["detail"]
        assert client.get(f"/api/images/{image_id}/encode").json()["state"] == "failed"
        assert client.get("/api/info").status_code == 200


def test_concurrent_requests_on_different_images_match_sequential(
    client: TestClient, image_ids: dict[str, str]
) -> None:
    """Several tabs at once: no state of one request leaks into another."""
    jobs = [
        (image_ids[name], {"points": [[x, y]], "labels": [1]})
        for name in ("chelsea.jpg", "astronaut.jpg")
        for x, y in ((50, 60), (200, 150), (300, 250))
    ]

    def run(job: tuple[str, dict[str, Any]]) -> list[Any]:
        body = post_json(client, f"/api/images/{job[0]}/predict", job[1]).json()
        return [body["masks"], body["scores"]]

    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(run, jobs * 2))
    assert concurrent == sequential * 2
