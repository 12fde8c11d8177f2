"""`segany auto` inputs: folders, globs, list files, Parquet / CSV / JSONL manifests, boxes files, shards,
safe output names and the settings hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segany.auto import ManifestError, RunSettings, make_shards, read_boxes, read_manifest
from segany.auto.store import file_key


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for name in ("b.jpg", "a.png", "sub/c.jpg", "notes.txt", ".hidden.jpg"):
        (root / name).write_bytes(b"x")
    return root


def test_folder_and_glob_ids_are_relative_names_in_sorted_order(folder: Path) -> None:
    assert [(e.id, e.image_id) for e in read_manifest(folder)] == [("a.png", 1), ("b.jpg", 2)]
    assert [e.id for e in read_manifest(folder, recursive=True)] == ["a.png", "b.jpg", "sub/c.jpg"]
    assert [e.id for e in read_manifest(str(folder / "*.jpg"))] == ["b.jpg"]
    assert read_manifest(folder)[0].uri == str(folder / "a.png")


def test_list_file_keeps_its_order_and_resolves_relative_paths(folder: Path) -> None:
    listing = folder / "list.txt"
    listing.write_text("# photos\nsub/c.jpg\n\n  a.png  \ns3://bucket/key.jpg\n")
    entries = read_manifest(listing)
    assert [(e.id, e.uri) for e in entries] == [
        ("sub/c.jpg", str(folder / "sub/c.jpg")),
        ("a.png", str(folder / "a.png")),
        ("s3://bucket/key.jpg", "s3://bucket/key.jpg"),
    ]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_manifests_give_id_and_uri_in_file_order(tmp_path: Path, suffix: str) -> None:
    rows = [{"id": "z", "uri": "gs://b/z.jpg", "extra": 1}, {"id": "k7", "uri": "photos/k.png", "extra": 2}]
    path = tmp_path / f"m{suffix}"
    if suffix == ".csv":
        path.write_text("id,uri,extra\n" + "".join(f"{r['id']},{r['uri']},{r['extra']}\n" for r in rows))
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    entries = read_manifest(path)
    assert [(e.id, e.uri, e.image_id) for e in entries] == [
        ("z", "gs://b/z.jpg", 1),
        ("k7", str(tmp_path / "photos/k.png"), 2),
    ]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("id,path\na,b.jpg\n", "needs non-empty 'id' and 'uri'"),
        ("id,uri\na,x.jpg\na,y.jpg\n", "id 'a' appears more than once"),
    ],
)
def test_bad_manifests_are_named(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(ManifestError, match=fragment):
        read_manifest(path)


def test_missing_input_and_empty_folder_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope")
    with pytest.raises(ManifestError, match="no images found"):
        read_manifest(tmp_path)


def test_shards_are_consecutive_runs(folder: Path) -> None:
    entries = read_manifest(folder, recursive=True)
    shards = make_shards(entries, 2)
    assert [(s.name, [e.id for e in s.entries]) for s in shards] == [
        ("000000", ["a.png", "b.jpg"]),
        ("000001", ["sub/c.jpg"]),
    ]
    with pytest.raises(ValueError, match="shard_size must be a positive int"):
        make_shards(entries, 0)


def test_boxes_files_in_both_forms(tmp_path: Path) -> None:
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text('{"id": "a.png", "boxes": [[1, 2, 3, 4]]}\n{"id": "b.jpg", "boxes": []}\n')
    whole = tmp_path / "b.json"
    whole.write_text('{"a.png": [[1, 2, 3, 4]], "b.jpg": []}')
    assert read_boxes(jsonl) == read_boxes(whole) == {"a.png": [(1.0, 2.0, 3.0, 4.0)], "b.jpg": []}
    bad = tmp_path / "bad.json"
    bad.write_text('{"a.png": [[1, 2, 3]]}')
    with pytest.raises(ManifestError, match="box 0 must be 4 finite numbers"):
        read_boxes(bad)


def test_boxes_from_a_detectors_coco_json(tmp_path: Path) -> None:
    """COCO's XYWH boxes become XYXY, by file_name; an image without detections gets no boxes."""
    coco = {
        "images": [{"id": 7, "file_name": "a.png"}, {"id": 9, "file_name": "sub/b.jpg"}],
        "annotations": [
            {"image_id": 7, "bbox": [1, 2, 10, 20], "score": 0.9, "category_id": 1},
            {"image_id": 7, "bbox": [0.5, 0, 3, 4]},
        ],
        "categories": [{"id": 1, "name": "gull"}],
    }
    path = tmp_path / "detections.json"
    path.write_text(json.dumps(coco, indent=2))
    assert read_boxes(path) == {"a.png": [(1.0, 2.0, 11.0, 22.0), (0.5, 0.0, 3.5, 4.0)], "sub/b.jpg": []}
    coco["annotations"].append({"image_id": 8, "bbox": [0, 0, 1, 1]})
    path.write_text(json.dumps(coco))
    with pytest.raises(ManifestError, match=r"annotations\[2\] needs an image_id listed in images"):
        read_boxes(path)
    coco["annotations"][2] = {"image_id": 9, "bbox": [0, 0, -1, 1]}
    path.write_text(json.dumps(coco))
    with pytest.raises(ManifestError, match="needs w, h >= 0"):
        read_boxes(path)


@pytest.mark.parametrize(
    ("image_id", "key"),
    [
        ("a.png", "a.png"),
        ("sub/c d.jpg", "sub%2Fc%20d.jpg"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        (".hidden", "%2Ehidden"),
    ],
)
def test_file_keys_never_leave_the_shard_folder(image_id: str, key: str) -> None:
    assert file_key(image_id) == key
    assert "/" not in file_key(image_id) and not file_key(image_id).startswith(".")


def test_long_ids_get_distinct_bounded_keys() -> None:
    first, second = file_key("x" * 300 + "1"), file_key("x" * 300 + "2")
    assert first != second and len(first) <= 180


def test_settings_hash_changes_with_every_setting() -> None:
    base = RunSettings("grid", 64, generator={"points_per_side": 32})
    variants = [
        RunSettings("grid", 65, generator={"points_per_side": 32}),
        RunSettings("grid", 64, generator={"points_per_side": 16}),
        RunSettings("boxes", 64, boxes_sha256="0" * 64),
    ]
    assert base.digest() == RunSettings("grid", 64, generator={"points_per_side": 32}).digest()
    assert len({base.digest(), *(v.digest() for v in variants)}) == 4
    with pytest.raises(ValueError, match="boxes_sha256 must be given exactly"):
        RunSettings("boxes", 64)


def test_urls_pyarrow_does_not_know_are_read_with_fsspec(photos: Path) -> None:
    """memory:// is an fsspec filesystem pyarrow has no driver for: the fallback reads it, with the same
    pixels as the local file and errors that name the URL."""
    fsspec = pytest.importorskip("fsspec")
    from segany.auto.sources import read_bytes, read_image
    from segany.io import ImageLoadError, load_image

    data = (photos / "img_00.png").read_bytes()
    with fsspec.open("memory://segany-auto-test/img_00.png", "wb") as handle:
        handle.write(data)
    try:
        assert read_bytes("memory://segany-auto-test/img_00.png") == data
        assert (read_image("memory://segany-auto-test/img_00.png") == load_image(photos / "img_00.png")).all()
        with pytest.raises(ImageLoadError, match="segany-auto-test/missing.png"):
            read_image("memory://segany-auto-test/missing.png")
        with pytest.raises(ImageLoadError, match="file not found"):
            read_bytes(str(photos / "missing.png"))
    finally:
        fsspec.filesystem("memory").rm("/segany-auto-test", recursive=True)
