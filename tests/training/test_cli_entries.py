"""`segany train` / `segany eval` entry points: a 2-step run from flags, then its evaluation."""

from __future__ import annotations

import argparse
import csv
import json

import pytest
from training_testing import SEGDATA, TINY_ENCODER

from segany.training.cli_eval import add_eval_arguments
from segany.training.cli_eval import main as eval_main
from segany.training.cli_train import main as train_main


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    code = train_main(
        [
            "--encoder",
            json.dumps(TINY_ENCODER),
            "--image-size",
            "128",
            "--prompt-embed-dim",
            "32",
            "--data",
            f"folder:{SEGDATA / 'weizmann_horse'}",
            "--steps",
            "2",
            "--warmup-steps",
            "1",
            "--interactive-points",
            "1",
            "--mask-only-iterations",
            "1",
            "--max-masks-per-image",
            "1",
            "--out-dir",
            str(run),
            "--device",
            "cpu",
            "--no-progress",
            "--no-tensorboard",
        ]
    )
    assert code == 0
    return run


def test_train_entry_writes_a_run(trained_run):
    assert (trained_run / "model.pt").is_file() and (trained_run / "config.json").is_file()
    assert json.loads((trained_run / "config.json").read_text())["steps"] == 2


HORSES = f"folder:{SEGDATA / 'weizmann_horse'}"


def _eval(run, out, *options):
    """`segany eval` of the trained run on one horse image, quiet, on CPU, plus options."""
    return eval_main(
        ["--model", str(run), "--out", str(out), "--max-images", "1", "--device", "cpu", "-q", *options]
    )


def test_eval_entry_scores_the_model_and_grabcut(trained_run, tmp_path, capsys):
    out = tmp_path / "eval"
    code = _eval(trained_run, out, "--data", HORSES, "--max-clicks", "3")
    assert code == 0
    printed = capsys.readouterr().out
    assert "| run |" in printed and "| GrabCut |" in printed and "run (oracle)" in printed
    with open(out / "miou.csv", newline="") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"run", "run (oracle)", "GrabCut"}
    assert 0.0 <= float(rows["GrabCut"]["box"]) <= 1.0 and rows["run"]["3"] != ""
    assert (out / "objects.csv").is_file() and (out / "miou.png").stat().st_size > 0
    settings = json.loads((out / "eval_config.json").read_text())
    assert settings["method"] == "run" and settings["grabcut"] is True


def test_eval_grabcut_box_only_and_tables_per_dataset(trained_run, tmp_path, capsys):
    """--grabcut-max-clicks 0: GrabCut runs its box row only (no click columns); the model keeps its clicks."""
    out = tmp_path / "eval_box"
    code = _eval(trained_run, out, "--data", HORSES, "--max-clicks", "2", "--grabcut-max-clicks", "0")
    assert code == 0
    capsys.readouterr()
    with open(out / "miou.csv", newline="") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"run", "run (oracle)", "GrabCut"}
    assert 0.0 <= float(rows["GrabCut"]["box"]) <= 1.0
    assert rows["GrabCut"]["1"] == "" and rows["run"]["2"] != ""
    assert json.loads((out / "eval_config.json").read_text())["grabcut_max_clicks"] == 0
    with pytest.raises(ValueError, match="grabcut-max-clicks"):
        _eval(
            trained_run, tmp_path / "bad", "--data", HORSES, "--max-clicks", "2", "--grabcut-max-clicks", "3"
        )


def test_eval_keeps_finished_datasets_when_a_later_one_fails(trained_run, tmp_path, capsys):
    out = tmp_path / "eval_partial"
    with pytest.raises((FileNotFoundError, ValueError)):
        _eval(
            trained_run,
            out,
            "--data",
            HORSES,
            "--data",
            f"folder:{tmp_path / 'missing'}",
            "--max-clicks",
            "1",
            "--no-grabcut",
        )
    capsys.readouterr()
    assert "weizmann_horse" in (out / "miou.md").read_text() and (out / "objects.csv").is_file()


def test_eval_arguments_require_data_and_out():
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "vit_b"])
    args = parser.parse_args(["--data", "shared:horses:test", "--data", "shared:davis:test", "--out", "x"])
    assert args.data == ["shared:horses:test", "shared:davis:test"] and args.grabcut is None


def test_eval_proposals_only_writes_the_recall_table(trained_run, tmp_path, capsys):
    out = tmp_path / "eval_ar"
    code = _eval(
        trained_run, out, "--data", HORSES, "--no-prompts", "--proposals", "--proposal-points-per-side", "4"
    )
    assert code == 0
    assert "AR@1000" in capsys.readouterr().out
    with open(out / "proposals.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["method"], row["n_images"], row["n_gt"]) == ("run", "1", "1")
    assert 0.0 <= float(row["ar_100"]) <= float(row["ar_1000"]) <= 1.0
    assert not (out / "miou.md").exists()
    settings = json.loads((out / "eval_config.json").read_text())["proposal_settings"]
    assert settings["points_per_side"] == 4 and settings["pred_iou_thresh"] == 0.0
    with pytest.raises(ValueError, match="--no-prompts leaves nothing"):
        _eval(trained_run, tmp_path / "nothing", "--data", HORSES, "--no-prompts")
