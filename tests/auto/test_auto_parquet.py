"""`segany auto --format parquet`: one mask table per shard, against the SA-1B json run of the same inputs
(read with plain json and pyarrow), resume, the same bytes on a re-run, and refusal to mix formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from auto_testing import output_bytes, run_photos

from segany.auto import RunMismatchError, iter_results, read_index
from segany.cli.main import main
from segany.formats import MASK_TABLE_COLUMNS, read_auto_index, read_mask_table, write_mask_table

pq = pytest.importorskip("pyarrow.parquet", reason="Parquet output needs the scale extra")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
SHARD = 3


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, photos: Path, tiny_checkpoint: Path) -> tuple[Path, Path]:
    """(SA-1B json run, Parquet run) of the same photos and settings."""
    folder = tmp_path_factory.mktemp("auto_parquet")
    run_photos(photos, folder / "json", tiny_checkpoint, SHARD)
    summary = run_photos(photos, folder / "parquet", tiny_checkpoint, SHARD, output_format="parquet")
    assert summary.processed == 10 and summary.errors == 1 and summary.shards_unfinished == 0
    return folder / "json", folder / "parquet"


def test_tables_hold_the_json_runs_masks(runs: tuple[Path, Path]) -> None:
    json_out, parquet_out = runs
    assert sorted(p.name for p in (parquet_out / "shards").iterdir()) == [
        name for index in range(4) for name in (f"{index:06d}.done.json", f"{index:06d}.parquet")
    ]
    assert not (parquet_out / "staging").exists()
    rows = []
    for shard in range(4):
        table = pq.read_table(parquet_out / "shards" / f"{shard:06d}.parquet")
        assert table.column_names == list(MASK_TABLE_COLUMNS)
        rows.extend(table.to_pylist())
    expected = []
    for row in read_index(json_out):
        if row.error is None:
            document = json.loads((json_out / row.file).read_text())
            for annotation in document["annotations"]:
                expected.append((row.image_id, row.id, annotation))
    assert len(rows) == len(expected) > 9
    for got, (image_id, name, annotation) in zip(rows, expected):
        assert (got["image_id"], got["file_name"], got["annotation_id"]) == (image_id, name, annotation["id"])
        assert [got["height"], got["width"]] == annotation["segmentation"]["size"]
        assert got["counts"] == annotation["segmentation"]["counts"]
        assert got["bbox"] == annotation["bbox"] and got["area"] == annotation["area"]
        assert got["predicted_iou"] == annotation["predicted_iou"]
        assert got["stability_score"] == annotation["stability_score"]
        assert got["point_coords"] == annotation["point_coords"]
        assert got["crop_box"] == annotation["crop_box"]


def test_index_and_readers_give_the_same_results_for_both_formats(runs: tuple[Path, Path]) -> None:
    json_out, parquet_out = runs
    index_json, index_parquet = read_index(json_out), read_auto_index(parquet_out)
    assert [(r.id, r.masks, r.error, r.width) for r in index_json] == [
        (r.id, r.masks, r.error, r.width) for r in index_parquet
    ]
    assert {r.file for r in index_parquet if r.shard == "000001"} == {"shards/000001.parquet"}
    for (row_a, info_a, records_a), (row_b, info_b, records_b) in zip(
        iter_results(json_out), iter_results(parquet_out), strict=True
    ):
        assert row_a.id == row_b.id and info_a == info_b
        assert records_a == records_b


def test_rerun_changes_no_byte_and_a_lost_marker_redoes_its_shard(
    runs: tuple[Path, Path], photos: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    _, reference = runs
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    summary = run_photos(photos, out, tiny_checkpoint, SHARD, output_format="parquet")
    assert summary.processed == 0 and output_bytes(out) == output_bytes(reference)
    (out / "shards" / "000002.done.json").unlink()  # stopped between the table and its marker
    (out / "staging" / "000002").mkdir(parents=True)  # ... with its staging folder gone already
    seen: list[str] = []
    summary = run_photos(
        photos, out, tiny_checkpoint, SHARD, output_format="parquet", on_row=lambda row: seen.append(row.id)
    )
    assert seen == ["img_06.png", "img_07.png", "img_08.png"]
    assert output_bytes(out) == output_bytes(reference)
    assert not (out / "staging").exists()


def test_formats_do_not_mix_without_overwrite(
    runs: tuple[Path, Path], photos: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    json_out, _ = runs
    out = tmp_path / "out"
    shutil.copytree(json_out, out)
    with pytest.raises(RunMismatchError, match="another settings"):
        run_photos(photos, out, tiny_checkpoint, SHARD, output_format="parquet")
    run_photos(photos, out, tiny_checkpoint, SHARD, output_format="parquet", overwrite=True)
    assert not [p for p in (out / "shards").iterdir() if p.is_dir()]  # the json shard folders are gone
    assert len(list((out / "shards").glob("*.parquet"))) == 4


def test_write_and_read_a_table_of_binary_masks(tmp_path: Path) -> None:
    import numpy as np
    from pycocotools import mask as coco_mask

    mask = np.zeros((5, 7), dtype=bool)
    mask[1:4, 2:6] = True
    records = [
        {"segmentation": mask, "predicted_iou": 0.5, "point_coords": [[3, 2]], "crop_box": [0, 0, 7, 5]},
        {"segmentation": ~mask},
    ]
    path = write_mask_table(
        [({"file_name": "a.png", "width": 7, "height": 5, "image_id": 4}, records)], tmp_path / "t.parquet"
    )
    ((image_id, (info, got)),) = read_mask_table(path, output_mode="binary_mask").items()
    assert image_id == 4 and info.file_name == "a.png" and [r["id"] for r in got] == [1, 2]
    np.testing.assert_array_equal(got[0]["segmentation"], mask)
    np.testing.assert_array_equal(got[1]["segmentation"], ~mask)
    assert got[0]["area"] == 12 and got[0]["bbox"] == [2.0, 1.0, 3.0, 2.0]  # the generator's XYWH convention
    assert got[1]["predicted_iou"] is None and got[1]["point_coords"] is None
    table = pq.read_table(path).to_pylist()
    rle = {"size": [5, 7], "counts": table[0]["counts"].encode()}
    np.testing.assert_array_equal(coco_mask.decode(rle).astype(bool), mask)  # pycocotools reads the counts


def test_command_line_format_flag(photos: Path, tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["auto", str(photos), "--out", str(tmp_path / "o"), "--model", str(tiny_checkpoint), "-q"]
    grid = ["--points-per-side", "2", "--format", "parquet"]
    assert main(argv + grid) == 1  # the corrupt photo
    assert len(list((tmp_path / "o" / "shards").glob("*.parquet"))) == 1
    assert main(argv + ["--points-per-side", "2"]) == 1
    assert "another settings" in capsys.readouterr().err
