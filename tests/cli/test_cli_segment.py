"""`segany segment` and `segany embed`: files written, their sizes and modes, the json, prompt rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_testing import FIXTURES, TINY, Result, assert_one_line_error, run_cli
from PIL import Image

CHELSEA = FIXTURES / "chelsea.jpg"  # 451 x 300
POINT = "200,150"


@pytest.fixture(scope="module")
def one_point(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("one_point")
    return run_cli("segment", CHELSEA, "--point", POINT, *TINY, "--out", out), out


def _json(out: Path, stem: str = "chelsea") -> dict:
    return json.loads((out / f"{stem}.json").read_text())


def _mask(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "L"
        pixels = np.asarray(image)
    assert set(np.unique(pixels).tolist()) <= {0, 255}
    return pixels == 255


def test_one_point_writes_mask_overlay_cutout_json(one_point: tuple[Result, Path]) -> None:
    result, out = one_point
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "chelsea.json",
        "chelsea_cutout_0.png",
        "chelsea_mask_0.png",
        "chelsea_overlay.png",
        "settings.json",
    ]
    mask = _mask(out / "chelsea_mask_0.png")
    assert mask.shape == (300, 451)
    with Image.open(out / "chelsea_overlay.png") as overlay:
        assert (overlay.mode, overlay.size) == ("RGB", (451, 300))
        overlay_pixels = np.asarray(overlay)
    with Image.open(out / "chelsea_cutout_0.png") as cut:
        assert (cut.mode, cut.size) == ("RGBA", (451, 300))
        rgba = np.asarray(cut)
    np.testing.assert_array_equal(rgba[..., 3] == 255, mask)
    assert set(np.unique(rgba[..., 3]).tolist()) <= {0, 255}
    photo = np.asarray(Image.open(CHELSEA).convert("RGB"))
    np.testing.assert_array_equal(rgba[..., :3], photo)
    # The overlay tints the mask and draws the positive click in green.
    if mask.any():
        assert np.any(overlay_pixels[mask] != photo[mask])
    assert tuple(overlay_pixels[150, 200]) == (0, 200, 0)


def test_one_point_json_fields(one_point: tuple[Result, Path]) -> None:
    result, out = one_point
    document = _json(out)
    mask = _mask(out / "chelsea_mask_0.png")
    assert document["image"] == {"path": str(CHELSEA), "width": 451, "height": 300}
    assert document["prompts"] == {"points": [{"x": 200.0, "y": 150.0, "label": 1}], "boxes_xyxy": []}
    assert document["selection"] == "best of 3 candidates"
    assert document["model"]["arch"] == "vit_tiny" and document["model"]["source"] == "random"
    assert document["multimask"] is False
    (record,) = document["masks"]
    assert record["mask"] == "chelsea_mask_0.png" and record["cutout"] == "chelsea_cutout_0.png"
    assert record["best"] is True and document["best_index"] == 0
    assert isinstance(record["score"], float)
    assert record["area"] == int(mask.sum())
    rows, cols = np.nonzero(mask)
    x0, y0, x1, y1 = int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())
    assert record["box_xyxy"] == [x0, y0, x1, y1]
    assert record["box_xywh"] == [x0, y0, x1 - x0, y1 - y0]
    assert f"wrote 1 mask(s) to {out}" in result.out
    settings = json.loads((out / "settings.json").read_text())
    assert settings["command"] == "segment"
    assert settings["flags"]["point"] == [[200.0, 150.0, 1]]
    assert settings["model"]["spec"] == "vit_tiny" and settings["device"] == "cpu"


def test_multimask_writes_three_candidates_best_marked(tmp_path: Path) -> None:
    result = run_cli("segment", CHELSEA, "--point", POINT, "--multimask", *TINY, "--out", tmp_path, "-q")
    assert result.code == 0, result.err
    document = _json(tmp_path)
    assert document["selection"] == "all 3 candidates"
    records = document["masks"]
    assert [r["mask"] for r in records] == [f"chelsea_mask_{i}.png" for i in range(3)]
    scores = [r["score"] for r in records]
    assert [r["best"] for r in records] == [i == int(np.argmax(scores)) for i in range(3)]
    assert document["best_index"] == int(np.argmax(scores))
    for record in records:
        assert _mask(tmp_path / record["mask"]).shape == (300, 451)
        assert (tmp_path / record["cutout"]).is_file()
    assert "segany: model" not in result.err  # --quiet silences notes (warnings stay)


def test_several_boxes_give_one_object_each(tmp_path: Path) -> None:
    boxes = ["10,10,200,200", "220,40,430,290"]
    result = run_cli("segment", CHELSEA, "--box", boxes[0], "--box", boxes[1], *TINY, "--out", tmp_path)
    assert result.code == 0, result.err
    document = _json(tmp_path)
    assert document["selection"] == "one mask per box"
    assert [r["box_prompt"] for r in document["masks"]] == [
        [10.0, 10.0, 200.0, 200.0],
        [220.0, 40.0, 430.0, 290.0],
    ]
    assert document["prompts"]["boxes_xyxy"] == [[10.0, 10.0, 200.0, 200.0], [220.0, 40.0, 430.0, 290.0]]
    assert sum(r["best"] for r in document["masks"]) == 1
    for index in range(2):
        assert _mask(tmp_path / f"chelsea_mask_{index}.png").shape == (300, 451)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ((), "give at least one prompt"),
        (("--box", "10,10,200,200", "--box", "220,40,430,290", "--point", POINT), "one --box only"),
        (
            ("--box", "10,10,200,200", "--box", "220,40,430,290", "--multimask"),
            "--multimask applies to one object",
        ),
        (("--point", "99999,5"), "outside"),
    ],
)
def test_prompt_errors_are_one_line(tmp_path: Path, argv: tuple[str, ...], fragment: str) -> None:
    result = run_cli("segment", CHELSEA, *argv, *TINY, "--out", tmp_path)
    assert result.code == 1
    assert_one_line_error(result, fragment)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("--point=1", "expected X,Y"), ("--point=1,2,7", "LABEL must be 1"), ("--box=5,5,1,1", "X1 >= X0")],
)
def test_malformed_prompt_flags_are_usage_errors(tmp_path: Path, value: str, fragment: str) -> None:
    result = run_cli("segment", CHELSEA, value, "--out", tmp_path)
    assert result.code == 2
    assert_one_line_error(result, fragment, "segany segment --help")


def test_embed_then_segment_with_embedding_matches(tmp_path: Path, one_point: tuple[Result, Path]) -> None:
    _, reference = one_point
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "chelsea.jpg").write_bytes(CHELSEA.read_bytes())
    embed = run_cli("embed", folder, *TINY, "--out", tmp_path / "emb")
    assert embed.code == 0, embed.err
    assert "1 processed" in embed.out
    npz = tmp_path / "emb" / "chelsea.npz"
    with np.load(npz) as data:
        assert data["embedding"].shape == (1, 256, 64, 64)
        assert str(data["model"]) == "vit_tiny"
    # No --model: the embedding's model is used; the encoder is not run.
    out = tmp_path / "out"
    result = run_cli("segment", CHELSEA, "--embedding", npz, "--point", POINT, "--out", out)
    assert result.code == 0, result.err
    np.testing.assert_array_equal(_mask(out / "chelsea_mask_0.png"), _mask(reference / "chelsea_mask_0.png"))
    assert _json(out)["masks"][0]["score"] == pytest.approx(_json(reference)["masks"][0]["score"], abs=1e-5)
    # A second embed run skips the finished image.
    again = run_cli("embed", folder, *TINY, "--out", tmp_path / "emb")
    assert again.code == 0 and "0 processed, 1 skipped" in again.out


def test_embedding_of_another_image_is_refused(tmp_path: Path) -> None:
    embed = run_cli("embed", CHELSEA, *TINY, "--out", tmp_path)
    assert embed.code == 0, embed.err
    result = run_cli(
        "segment",
        FIXTURES / "dog.jpg",
        "--embedding",
        tmp_path / "chelsea.npz",
        "--point",
        POINT,
        "--out",
        tmp_path,
    )
    assert_one_line_error(result, "451x300", "800x534")
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"not a zip")
    result = run_cli("segment", CHELSEA, "--embedding", bogus, "--point", POINT, "--out", tmp_path)
    assert_one_line_error(result, "--embedding", "bogus.npz")


def test_checkpoint_path_architecture_is_inferred(tmp_path: Path) -> None:
    from segany.registry import sam_model_registry

    checkpoint = tmp_path / "tiny.pth"
    torch.manual_seed(3)
    torch.save(sam_model_registry["vit_tiny"]().state_dict(), checkpoint)
    result = run_cli(
        "segment", CHELSEA, "--box", "10,10,200,200", "--model", checkpoint, "--out", tmp_path / "o"
    )
    assert result.code == 0, result.err
    model = _json(tmp_path / "o")["model"]
    assert model == {
        "arch": "vit_tiny",
        "source": "checkpoint",
        "spec": str(checkpoint),
        "weights": str(checkpoint),
    }
    # A wrong --arch is a one-line error listing what does not fit, not a traceback.
    result = run_cli(
        "segment", CHELSEA, "--box", "1,1,9,9", "--model", checkpoint, "--arch", "vit_b", "--out", tmp_path
    )
    assert_one_line_error(result, "tiny.pth", "does not match the model")


def test_default_model_without_weights_warns_and_falls_back(capsys: pytest.CaptureFixture[str]) -> None:
    from segany.cli.models import resolve_model

    sam, description = resolve_model(None, "cpu")
    err = capsys.readouterr().err
    assert "no pretrained weights found" in err and "segany weights download vit_b" in err
    assert (description.arch, description.source, description.spec) == ("vit_tiny", "random", "vit_tiny")
    again, _ = resolve_model(None, "cpu")  # seeded: the same random model every time
    for (key, left), right in zip(sam.state_dict().items(), again.state_dict().values()):
        assert torch.equal(left, right), key


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--model", "vit_b"), "segany weights download vit_b"),
        (("--model", "no_such_model"), "registry name"),
        (("--model", "vit_tiny", "--arch", "vit_b"), "--arch applies to a checkpoint file"),
        (("--model", "vit_tiny", "--device", "mps"), "--device mps"),
    ],
)
def test_model_and_device_errors(tmp_path: Path, argv: tuple[str, ...], fragment: str) -> None:
    if "mps" in argv and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    result = run_cli("segment", CHELSEA, "--point", POINT, *argv, "--out", tmp_path)
    assert_one_line_error(result, fragment)
