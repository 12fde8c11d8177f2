"""`segany engine retrain`: decoder-mode fine-tune on accepted masks registers a new, loadable model version."""

from __future__ import annotations

from pathlib import Path

import torch
from engine_client import png_bytes, square, tiny_model, uncompressed

from segany.cli.main import main
from segany.engine import annotating
from segany.engine.annotating import NewAnnotation
from segany.engine.models import ModelVersion
from segany.engine.projects import add_image, create_project
from segany.engine.retrain import retrain
from segany.engine.server import register_model_version
from segany.engine.store import open_store
from segany.training.embedding_cache import model_fingerprint


def test_retrain_registers_a_new_version(tmp_path: Path) -> None:
    sam = tiny_model()
    base = tmp_path / "base.pt"
    torch.save(sam.state_dict(), base)
    store = open_store(tmp_path / "project")
    parent = register_model_version(store, str(base), model_fingerprint(sam, sam.image_size), "round0")
    with store.transaction() as db:
        project = create_project(db, "gulls")
        for seed in range(2):
            image, _ = add_image(db, store.blobs, project, png_bytes(seed=seed), f"g{seed}.png")
            annotating.create(
                db,
                image,
                NewAnnotation(uncompressed(square(48, 64, 16, 12, 48, 36)), clicks=1, seconds=1.0),
                None,
            )
            rejected, _ = annotating.create(
                db, image, NewAnnotation(uncompressed(square(48, 64, 0, 0, 5, 5)), source="automatic"), None
            )
            annotating.decide(db, rejected, 1, None, keep=False)
    store.close()
    store = open_store(tmp_path / "project")
    result = retrain(
        store,
        "gulls",
        str(base),
        tmp_path / "run",
        "round1",
        "decoder",
        steps=2,
        parent_id=parent,
        device="cpu",
        overrides={"interactive_points": 1, "mask_only_iterations": 0},
    )
    assert result.masks == 2 and result.version_id != parent
    with store.session() as db:
        version = db.query(ModelVersion).filter_by(name="round1").one()
        assert version.parent_id == parent and version.fingerprint != model_fingerprint(sam, sam.image_size)
    store.close()
    assert main(["engine", "retrain", "--help"]) == 0
    from segany.cli.models import resolve_model

    trained, _ = resolve_model(version.model, "cpu")
    before, after = sam.state_dict(), trained.state_dict()
    encoder_same = all(torch.equal(before[k], after[k]) for k in before if k.startswith("image_encoder."))
    decoder_moved = any(not torch.equal(before[k], after[k]) for k in before if k.startswith("mask_decoder."))
    assert encoder_same and decoder_moved  # decoder mode: the encoder is frozen
    exported = (tmp_path / "run" / "data" / "annotations.json").read_text()
    assert exported.count('"segmentation"') == 2  # the two accepted masks, not the rejected ones


def test_full_mode_retrain_moves_the_encoder_and_resumes(tmp_path: Path) -> None:
    """`--mode full` trains the encoder too; rerunning the same run folder resumes instead of starting over."""
    import csv

    sam = tiny_model()
    base = tmp_path / "base.pt"
    torch.save(sam.state_dict(), base)
    store = open_store(tmp_path / "project")
    parent = register_model_version(store, str(base), model_fingerprint(sam, sam.image_size), "round0")
    with store.transaction() as db:
        project = create_project(db, "gulls")
        image, _ = add_image(db, store.blobs, project, png_bytes(seed=3), "g.png")
        annotating.create(
            db,
            image,
            NewAnnotation(uncompressed(square(48, 64, 16, 12, 48, 36)), clicks=2, seconds=1.0),
            None,
        )
    settings = {"interactive_points": 1, "mask_only_iterations": 0, "checkpoint_every": 1, "augment": False}
    first = retrain(
        store, "gulls", str(base), tmp_path / "run", "full1", "full", 2, ("manual",), parent, "cpu", settings
    )
    from segany.cli.models import resolve_model

    trained, _ = resolve_model(str(first.weights), "cpu")
    before, after = sam.state_dict(), trained.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("image_encoder."))
    # A restarted (not resumed) run would start from init.pt again: other weights there would show in the result.
    torch.save(tiny_model(seed=9).state_dict(), tmp_path / "run" / "init.pt")
    again = retrain(
        store,
        "gulls",
        str(base),
        tmp_path / "run",
        "full1-again",
        "full",
        2,
        ("manual",),
        parent,
        "cpu",
        settings,
    )
    with open(tmp_path / "run" / "log.csv", newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == [1, 2]  # the second call found the finished run: no step was trained twice
    assert again.version_id == first.version_id  # the same weights: the same model version
    assert again.version_name == "full1"
    with store.session() as db:
        assert db.get(ModelVersion, first.version_id).notes.startswith("full fine-tune")  # type: ignore[union-attr]
    store.close()
