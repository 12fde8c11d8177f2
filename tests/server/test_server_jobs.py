"""Everything jobs: result equal to the generator's, progress, cancel, 404 / 409, hovering during a job."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_testing import CSRF, FIXTURES_DIR, decode_rle, post_json

from segany.amg import SamAutomaticMaskGenerator
from segany.io import load_image
from segany.modeling.sam import Sam

# segany_small's predicted IoUs rarely pass the official 0.88: loosened so that masks come out.
LOOSE = {"preset": "fast", "points_per_side": 6, "pred_iou_thresh": 0.1, "stability_score_thresh": 0.5}


def wait_for(
    client: TestClient, job_id: str, states: tuple[str, ...], timeout: float = 600.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        seen.append(job["progress"])
        if job["state"] in states:
            assert seen == sorted(seen), "progress never goes back"
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {states} in {timeout} s")


def test_everything_result_equals_the_generator(
    client: TestClient, image_ids: dict[str, str], small_sam: Sam
) -> None:
    started = post_json(client, f"/api/images/{image_ids['chelsea.jpg']}/everything", LOOSE)
    assert started.status_code == 200
    job_id = started.json()["job_id"]
    job = wait_for(client, job_id, ("done", "failed"))
    assert job == {"job_id": job_id, "state": "done", "progress": 1.0, "error": None}
    result = client.get(f"/api/jobs/{job_id}/result").json()
    overrides = {key: value for key, value in LOOSE.items() if key != "preset"}
    generator = SamAutomaticMaskGenerator.from_preset(small_sam, "fast", **overrides)
    expected = generator.generate(load_image(FIXTURES_DIR / "chelsea.jpg"))
    assert (result["width"], result["height"]) == (451, 300)
    assert len(result["masks"]) == len(expected) > 0
    for served, record in zip(result["masks"], expected):
        np.testing.assert_array_equal(decode_rle(served), record["segmentation"])
        assert served["bbox"] == record["bbox"] and served["area"] == record["area"]
        assert served["predicted_iou"] == pytest.approx(record["predicted_iou"], abs=1e-6)
        assert served["stability_score"] == pytest.approx(record["stability_score"], abs=1e-6)


def test_hover_is_served_while_a_long_job_runs_and_cancel_stops_it(
    client: TestClient, image_ids: dict[str, str]
) -> None:
    """An everything run (sa1b: 32 x 32 points plus two crop layers) must not block hovering."""
    job_id = post_json(
        client, f"/api/images/{image_ids['astronaut.jpg']}/everything", {"preset": "sa1b"}
    ).json()["job_id"]
    wait_for(client, job_id, ("running",))
    hover_url = f"/api/images/{image_ids['chelsea.jpg']}/hover"  # what the page sends on a mouse move
    served = 0
    for x in range(40, 400, 60):
        response = post_json(client, hover_url, {"x": x, "y": 150})
        assert response.status_code == 200
        served += 1
    still = client.get(f"/api/jobs/{job_id}").json()
    assert served == 6 and still["state"] == "running" and still["progress"] < 1.0
    assert client.get(f"/api/jobs/{job_id}/result").status_code == 409  # not done yet
    cancelled = client.delete(f"/api/jobs/{job_id}", headers=CSRF)
    assert cancelled.status_code == 200
    assert wait_for(client, job_id, ("cancelled", "done", "failed"))["state"] == "cancelled"
    assert client.get(f"/api/jobs/{job_id}/result").status_code == 409


def test_job_errors(client: TestClient, image_ids: dict[str, str]) -> None:
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/nope/result").status_code == 404
    assert client.delete("/api/jobs/nope", headers=CSRF).status_code == 404
    assert client.delete("/api/jobs/nope").status_code == 403
    url = f"/api/images/{image_ids['chelsea.jpg']}/everything"
    unknown = post_json(client, url, {"preset": "nope"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "preset"
    assert "official" in unknown.json()["detail"]
    assert post_json(client, url, {"points_per_side": 0}).json()["field"] == "points_per_side"
    assert post_json(client, "/api/images/ffffffffffffffff/everything", {}).status_code == 404
