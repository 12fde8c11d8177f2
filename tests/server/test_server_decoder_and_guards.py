"""Browser decoding support (decoder.onnx + embedding agree with /predict) and the request guards."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_testing import CSRF, decode_rle, post_json

from segany.server.settings import ServerSettings, is_loopback


def test_decoder_onnx_with_the_embedding_gives_the_server_masks(
    client: TestClient, image_ids: dict[str, str]
) -> None:
    """What the page does in the browser, done with onnxruntime: masks within IoU 0.99 of /predict."""
    ort = pytest.importorskip("onnxruntime")
    response = client.get("/api/decoder.onnx")
    assert response.status_code == 200
    assert response.headers["x-decoder-multimask"] == "1" and response.headers["x-decoder-mask-tokens"] == "4"
    session = ort.InferenceSession(response.content, providers=["CPUExecutionProvider"])
    image_id = image_ids["chelsea.jpg"]
    embedded = client.get(f"/api/images/{image_id}/embedding")
    shape = tuple(int(n) for n in embedded.headers["x-embedding-shape"].split(","))
    height, width = (int(n) for n in embedded.headers["x-original-size"].split(","))
    input_h, input_w = (int(n) for n in embedded.headers["x-input-size"].split(","))
    scale = np.array([input_w / width, input_h / height], dtype=np.float32)  # per axis, as ResizeLongestSide
    low = client.get("/api/info").json()["model"]["low_res_size"]
    for point in ([220, 140], [60, 250], [400, 40]):
        coords = np.array([[point, [0.0, 0.0]]], dtype=np.float32) * scale  # + the padding point
        masks, scores, _ = session.run(
            None,
            {
                "image_embeddings": np.frombuffer(embedded.content, dtype="<f4").reshape(shape),
                "point_coords": coords,
                "point_labels": np.array([[1, -1]], dtype=np.float32),
                "mask_input": np.zeros((1, 1, low, low), np.float32),
                "has_mask_input": np.zeros(1, np.float32),
                "orig_im_size": np.array([height, width], dtype=np.float32),
            },
        )
        served = post_json(
            client, f"/api/images/{image_id}/predict", {"points": [point], "labels": [1]}
        ).json()
        np.testing.assert_allclose(scores[0, 1:], served["scores"], atol=1e-4)
        for candidate in range(3):
            browser = masks[0, candidate + 1] > 0
            server = decode_rle(served["masks"][candidate])
            union = (browser | server).sum()
            assert union == 0 or (browser & server).sum() / union >= 0.99


def test_cached_decoder_pair_gives_the_server_scores(client: TestClient, image_ids: dict[str, str]) -> None:
    """The files /api/info lists: prep once per image, then the per-prompt graph, as the page runs them."""
    ort = pytest.importorskip("onnxruntime")
    files = client.get("/api/info").json()["decoder_files"]
    assert set(files) == {"decoder", "decoder_lowres", "decoder_prep", "decoder_cached"}
    assert files["decoder"] == "/api/decoder.onnx"
    sessions = {}
    for role in ("decoder_prep", "decoder_cached", "decoder_lowres"):
        response = client.get(files[role])
        assert response.status_code == 200, role
        sessions[role] = ort.InferenceSession(response.content, providers=["CPUExecutionProvider"])
    image_id = image_ids["chelsea.jpg"]
    embedded = client.get(f"/api/images/{image_id}/embedding")
    shape = tuple(int(n) for n in embedded.headers["x-embedding-shape"].split(","))
    height, width = (int(n) for n in embedded.headers["x-original-size"].split(","))
    input_h, input_w = (int(n) for n in embedded.headers["x-input-size"].split(","))
    embedding = np.frombuffer(embedded.content, dtype="<f4").reshape(shape)
    prep = sessions["decoder_prep"]
    terms = prep.run(None, {prep.get_inputs()[0].name: embedding})
    cached = sessions["decoder_cached"]
    coords = np.array([[[220 * input_w / width, 140 * input_h / height], [0.0, 0.0]]], dtype=np.float32)
    labels = np.array([[1, -1]], dtype=np.float32)
    feeds = {"point_coords": coords, "point_labels": labels}
    feeds |= {item.name: term for item, term in zip(cached.get_inputs()[2:], terms)}
    outputs = {item.name: value for item, value in zip(cached.get_outputs(), cached.run(None, feeds))}
    served = post_json(
        client, f"/api/images/{image_id}/predict", {"points": [[220, 140]], "labels": [1]}
    ).json()
    np.testing.assert_allclose(outputs["iou_predictions"][0, 1:], served["scores"], atol=1e-4)
    # The browser's per-prompt graph has the tanh GELU (its name says so): its masks, upsampled as the
    # page does, within IoU 0.99 of the server's (exact GELU) masks.
    assert files["decoder_cached"].endswith(".gelu-tanh.onnx")
    from segany.geometry import upscale_masks

    frame = client.get("/api/info").json()["model"]["image_size"]
    upsampled = upscale_masks(
        outputs["low_res_masks"][0, 1:], frame, (input_h, input_w), (height, width), 0.0
    )
    for candidate in range(3):
        browser, server = upsampled[candidate], decode_rle(served["masks"][candidate])
        union = (browser | server).sum()
        assert union == 0 or (browser & server).sum() / union >= 0.99, candidate
    assert client.get("/api/decoder/../../etc/passwd").status_code == 404
    assert client.get("/api/decoder/encoder.onnx").status_code == 404


def test_isolation_headers_on_every_response(client: TestClient) -> None:
    for url in ("/", "/api/info", "/api/images", "/api/nothing"):
        headers = client.get(url).headers
        assert headers["cross-origin-opener-policy"] == "same-origin", url
        assert headers["cross-origin-embedder-policy"] == "require-corp", url


@pytest.mark.parametrize("host", ["evil.example", "192.168.1.20:8000", "127.0.0.1.evil.example"])
def test_foreign_host_header_is_refused(client: TestClient, host: str) -> None:
    response = client.get("/api/info", headers={"Host": host})
    assert response.status_code == 403 and response.json()["field"] == "host"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "127.0.0.2"])
def test_loopback_host_header_is_served(client: TestClient, host: str) -> None:
    assert client.get("/api/info", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/images/{id}/encode", None),
        ("post", "/api/images/{id}/predict", {"points": [[1, 1]], "labels": [1]}),
        ("post", "/api/images/{id}/everything", {}),
        ("post", "/api/images/{id}/export", {"format": "coco", "objects": []}),
        ("delete", "/api/jobs/x", None),
        ("put", "/api/info", None),
    ],
)
def test_mutating_requests_need_the_csrf_header(
    client: TestClient, image_ids: dict[str, str], method: str, url: str, body: Any
) -> None:
    target = url.format(id=image_ids["chelsea.jpg"])
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = client.request(method.upper(), target, **kwargs)
    assert response.status_code == 403
    wrong = client.request(method.upper(), target, headers={"X-Segany-Client": "0"}, **kwargs)
    assert wrong.status_code == 403
    assert client.request(method.upper(), target, headers=CSRF, **kwargs).status_code != 403


def test_default_binding_is_loopback() -> None:
    settings = ServerSettings()
    assert settings.host == "127.0.0.1" and settings.checks_host_header
    assert not ServerSettings(host="0.0.0.0").checks_host_header
    assert is_loopback("::1") and is_loopback("[::1]") and not is_loopback("10.0.0.1")
    with pytest.raises(ValueError, match="max_pixels"):
        ServerSettings(max_pixels=0)
    with pytest.raises(ValueError, match="images_dir"):
        ServerSettings(images_dir="/nonexistent/folder")  # type: ignore[arg-type]


def test_module_scripts_and_wasm_get_their_media_types(client: TestClient) -> None:
    import mimetypes

    assert mimetypes.guess_type("ort.wasm.min.mjs")[0] == "text/javascript"
    assert mimetypes.guess_type("ort-wasm-simd-threaded.wasm")[0] == "application/wasm"
