"""/api/info, /api/images (list, upload, file), /encode and /embedding, with their error cases."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from server_testing import CSRF, FIXTURES_DIR, GALLERY, make_client

from segany.amg import PRESETS
from segany.embedding_file import ImageEmbedding
from segany.io import load_image
from segany.modeling.sam import Sam
from segany.predictor import SamPredictor


def png_bytes(image: Image.Image, fmt: str = "PNG", **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, name: str = "photo.png") -> object:
    return client.post("/api/images", files={"file": (name, data)}, headers=CSRF)


def test_info_describes_the_model_and_limits(client: TestClient, small_sam: Sam) -> None:
    info = client.get("/api/info").json()
    assert info["model"]["name"] == "segany_small" and info["model"]["source"] == "bundled"
    assert info["model"]["image_size"] == small_sam.image_size == 512
    assert info["model"]["embedding_shape"] == [1, 128, 32, 32]
    assert info["model"]["low_res_size"] == 128
    assert len(info["model"]["fingerprint"]) == 16
    assert info["presets"] == list(PRESETS)
    assert info["decoders"] == ["server", "browser"]
    assert info["limits"]["max_pixels"] > 0 and info["limits"]["max_upload_bytes"] > 0
    paths = client.get("/api/openapi.json").json()["paths"]
    assert paths["/api/images/{id}/predict"]["post"]
    assert (
        "application/octet-stream" in paths["/api/images/{id}/hover"]["post"]["responses"]["200"]["content"]
    )


def test_gallery_lists_the_folder_by_content_hash(client: TestClient) -> None:
    listed = {item["name"]: item for item in client.get("/api/images").json()}
    assert set(GALLERY) <= set(listed)
    for name in GALLERY:
        data = (FIXTURES_DIR / name).read_bytes()
        width, height = Image.open(FIXTURES_DIR / name).size
        assert listed[name] == {
            "id": hashlib.sha256(data).hexdigest()[:16],
            "name": name,
            "width": width,
            "height": height,
        }


def test_upload_same_bytes_same_id_and_file_round_trip(client: TestClient) -> None:
    data = (FIXTURES_DIR / "dog.jpg").read_bytes()
    first = upload(client, data, "../../etc/passwd").json()
    second = upload(client, data, "other.jpg").json()
    assert first["id"] == second["id"] == hashlib.sha256(data).hexdigest()[:16]
    assert first["name"] == "passwd"  # display name only: the last component, never a path
    assert (first["width"], first["height"]) == (800, 534)
    served = client.get(f"/api/images/{first['id']}/file")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.content == data
    assert first["id"] in {item["id"] for item in client.get("/api/images").json()}


def test_rotated_jpeg_is_served_upright(client: TestClient) -> None:
    """EXIF orientation 6: the listed size and the served pixels are load_image's (rotated)."""
    source = Image.open(FIXTURES_DIR / "chelsea.jpg")  # 451 x 300
    exif = Image.Exif()
    exif[0x0112] = 6
    data = png_bytes(source, "JPEG", exif=exif.tobytes(), quality=95)
    item = upload(client, data, "rotated.jpg").json()
    assert (item["width"], item["height"]) == (300, 451)
    served = client.get(f"/api/images/{item['id']}/file")
    assert served.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(served.content)).convert("RGB"))
    expected = np.asarray(Image.open(io.BytesIO(data)).transpose(Image.Transpose.ROTATE_270).convert("RGB"))
    assert pixels.shape == (451, 300, 3)
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "PNG"),
        ("RGBA", "PNG"),
        ("P", "PNG"),
        ("I;16", "PNG"),
        ("1", "PNG"),
        ("CMYK", "JPEG"),
        ("RGB", "TIFF"),
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("P", "GIF"),
        ("LA", "PNG"),
        ("F", "TIFF"),
        ("I", "TIFF"),
        ("I;16B", "TIFF"),
        ("CMYK", "TIFF"),
        ("YCbCr", "TIFF"),
        ("LAB", "TIFF"),
        ("1", "TIFF"),
        ("L", "JPEG"),
    ],
)
def test_every_image_mode_is_accepted(client: TestClient, tmp_path: Path, mode: str, fmt: str) -> None:
    rgb = Image.open(FIXTURES_DIR / "chelsea.jpg").convert("RGB").resize((64, 48))
    image = rgb.convert(mode) if mode not in ("I;16", "I;16B", "I", "F") else rgb.convert("L").convert(mode)
    assert Image.open(io.BytesIO(png_bytes(image, fmt))).mode == mode  # the file really holds this mode
    data = png_bytes(image, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    response = upload(client, data, f"mode.{fmt.lower()}")
    assert response.status_code == 200, response.json()
    item = response.json()
    assert (item["width"], item["height"]) == (64, 48)
    (tmp_path / f"x.{fmt.lower()}").write_bytes(data)
    expected = load_image(tmp_path / f"x.{fmt.lower()}")
    served = np.asarray(
        Image.open(io.BytesIO(client.get(f"/api/images/{item['id']}/file").content)).convert("RGB")
    )
    if fmt not in ("JPEG",):  # a browser decodes CMYK JPEG its own way; the others must match exactly
        np.testing.assert_array_equal(served, expected)


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"not an image at all", 400, "not an image"),
        (b"", 400, "empty"),
        ((FIXTURES_DIR / "chelsea.jpg").read_bytes()[:4000], 400, "truncated"),
    ],
)
def test_bad_files_are_4xx_with_one_line(client: TestClient, data: bytes, status: int, reason: str) -> None:
    response = upload(client, data, "bad.jpg")
    assert response.status_code == status
    body = response.json()
    assert reason in body["detail"] and "\n" not in body["detail"] and body["field"] == "file"
    assert client.get("/api/info").status_code == 200  # still up


def test_upload_needs_a_multipart_file_field(client: TestClient) -> None:
    raw = client.post("/api/images", content=b"\xff\xd8", headers={**CSRF, "Content-Type": "image/jpeg"})
    assert raw.status_code == 415 and raw.json()["field"] == "file"
    other_field = client.post("/api/images", files={"photo": ("a.jpg", b"x")}, headers=CSRF)
    assert other_field.status_code == 422 and other_field.json()["field"] == "file"


def test_pixel_bomb_is_413_before_decoding(small_sam: Sam, tmp_path: Path) -> None:
    bomb = png_bytes(Image.new("1", (3000, 3000)))  # 9 MP in a few kilobytes
    assert len(bomb) < 10_000
    with make_client(small_sam, tmp_path, max_pixels=1_000_000) as client:
        response = upload(client, bomb, "bomb.png")
        assert response.status_code == 413
        assert "too large" in response.json()["detail"] and "1,000,000" in response.json()["detail"]


def test_upload_byte_limit_is_413(small_sam: Sam, tmp_path: Path) -> None:
    data = (FIXTURES_DIR / "dog.jpg").read_bytes()  # 64 kB
    with make_client(small_sam, tmp_path, max_upload_bytes=20_000) as client:
        response = upload(client, data, "dog.jpg")
        assert response.status_code == 413 and "limit" in response.json()["detail"]

        boundary = "segany-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="dog.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + data * 2
            + f"\r\n--{boundary}--\r\n".encode()
        )  # past the limit plus framing allowance

        def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it streams in
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        streamed = client.post("/api/images", content=chunks(), headers={**CSRF, **content_type})
        assert streamed.status_code == 413
        assert "request body is larger" in streamed.json()["detail"]  # stopped by the streaming count
        assert client.get("/api/images").json() == []


def test_unknown_image_is_404(client: TestClient) -> None:
    for method, url in [
        ("get", "/api/images/0123456789abcdef/file"),
        ("get", "/api/images/0123456789abcdef/encode"),
        ("post", "/api/images/0123456789abcdef/encode"),
        ("get", "/api/images/0123456789abcdef/embedding"),
    ]:
        response = getattr(client, method)(url, headers=CSRF)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "unknown image '0123456789abcdef'", "field": None}


def test_embedding_matches_the_predictor(
    client: TestClient, image_ids: dict[str, str], small_sam: Sam
) -> None:
    image_id = image_ids["chelsea.jpg"]
    started = client.post(f"/api/images/{image_id}/encode", headers=CSRF).json()
    assert started["id"] == image_id and started["state"] in ("pending", "ready")
    response = client.get(f"/api/images/{image_id}/embedding")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-embedding-shape"] == "1,128,32,32"
    assert response.headers["x-original-size"] == "300,451"
    assert response.headers["x-input-size"] == "341,512"  # int(300 * 512 / 451 + 0.5)
    served = np.frombuffer(response.content, dtype="<f4").reshape(1, 128, 32, 32)
    predictor = SamPredictor(small_sam)
    predictor.set_image(load_image(FIXTURES_DIR / "chelsea.jpg"))
    torch.testing.assert_close(
        torch.from_numpy(served.copy()), predictor.get_image_embedding(), rtol=0, atol=1e-5
    )
    assert client.get(f"/api/images/{image_id}/encode").json()["state"] == "ready"


def test_embeddings_are_read_back_from_disk(small_sam: Sam, gallery_dir: Path, tmp_path: Path) -> None:
    """A second server on the same cache folder serves the stored file instead of encoding again."""
    with make_client(small_sam, tmp_path, images_dir=gallery_dir) as client:
        item = next(i for i in client.get("/api/images").json() if i["name"] == "astronaut.jpg")
        client.get(f"/api/images/{item['id']}/embedding")
        fingerprint = client.get("/api/info").json()["model"]["fingerprint"]
    sha = hashlib.sha256((gallery_dir / "astronaut.jpg").read_bytes()).hexdigest()
    stored = tmp_path / "embeddings" / fingerprint / f"{sha}.npz"
    record = ImageEmbedding.load(stored)
    marked = np.full_like(record.embedding, 0.25)  # a value the encoder never gives everywhere
    ImageEmbedding(marked, record.original_size, record.input_size, record.image_size, record.model).save(
        stored
    )
    with make_client(small_sam, tmp_path, images_dir=gallery_dir) as client:
        served = np.frombuffer(client.get(f"/api/images/{item['id']}/embedding").content, dtype="<f4")
    assert np.all(served == 0.25)


def test_memory_cache_is_bounded_in_bytes(small_sam: Sam, gallery_dir: Path, tmp_path: Path) -> None:
    with make_client(small_sam, tmp_path, images_dir=gallery_dir, memory_cache_bytes=1) as client:
        state = client.app.state.segany  # type: ignore[attr-defined]
        ids = [item["id"] for item in client.get("/api/images").json()]
        for image_id in ids:
            client.get(f"/api/images/{image_id}/embedding")
        # One image alone passes the bound: only the newest stays in memory.
        assert [client.get(f"/api/images/{i}/encode").json()["state"] for i in ids] == ["absent"] * (
            len(ids) - 1
        ) + ["ready"]
        newest = state.embeddings.get(state.images.get(ids[-1]))
        assert state.embeddings.held_bytes == newest.nbytes > 0


def test_a_waiting_request_jumps_the_background_queue(small_sam: Sam, tmp_path: Path) -> None:
    """Pre-encoding of the gallery must not delay the photo the user opened."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg"):
        (folder / name).write_bytes((FIXTURES_DIR / name).read_bytes())
    with make_client(small_sam, tmp_path / "cache", images_dir=folder) as client:
        state = client.app.state.segany  # type: ignore[attr-defined]
        entries = {entry.name: entry for entry in state.images.entries()}
        finished: list[str] = []
        queued = ["chelsea.jpg", "astronaut.jpg", "dog.jpg"]
        for name in queued:  # the page's pre-encoding of the next photos
            future = state.embeddings.request(entries[name])
            future.add_done_callback(lambda _, name=name: finished.append(name))
        opened = entries["rocket_portrait.jpg"]
        state.embeddings.get(opened)  # a predict on the opened photo waits here
        finished.append(opened.name)
        for name in queued:
            state.embeddings.request(entries[name]).result()
        # Only the image already on the encoder when the user opened the photo may come before it.
        assert finished.index("rocket_portrait.jpg") <= 1, finished


def test_encode_priority_now_goes_before_the_encode_ahead(small_sam: Sam, tmp_path: Path) -> None:
    """The page asks `priority=now` for the photo the user opened: it must not wait for the head starts."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg"):
        (folder / name).write_bytes((FIXTURES_DIR / name).read_bytes())
    with make_client(small_sam, tmp_path / "cache", images_dir=folder) as client:
        ids = {item["name"]: item["id"] for item in client.get("/api/images").json()}
        ahead = ["chelsea.jpg", "astronaut.jpg", "dog.jpg"]
        for name in ahead:
            assert client.post(f"/api/images/{ids[name]}/encode", headers=CSRF).status_code == 200
        opened = ids["rocket_portrait.jpg"]
        assert (
            client.post(f"/api/images/{opened}/encode?priority=now", headers=CSRF).json()["state"]
            == "pending"
        )
        deadline = time.monotonic() + 300
        while client.get(f"/api/images/{opened}/encode").json()["state"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        states = [client.get(f"/api/images/{ids[name]}/encode").json()["state"] for name in ahead]
        # Only the head start already on the encoder when the photo was opened may be done before it.
        assert states.count("ready") <= 1, states
        bad = client.post(f"/api/images/{opened}/encode?priority=later", headers=CSRF)
        assert bad.status_code == 422 and bad.json()["field"] == "priority"
