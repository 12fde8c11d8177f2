"""TrainConfig: JSON round trip, validation, flags over a config file, the CLI's --print-config."""

from __future__ import annotations

import argparse
import json

import pytest

from segany.training.cli_train import add_train_arguments
from segany.training.cli_train import main as train_main
from segany.training.config import TrainConfig, add_config_flags, config_from_args


def test_json_round_trip(tmp_path):
    config = TrainConfig(
        data=["shared:horses:train@2", "folder:x:semantic"],
        encoder={"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn_indexes": [1]},
        lr=3e-4,
        lr_decay_steps=[10, 20],
        mode="decoder",
        scale_range=[0.5, 1.5],
    )
    path = config.save(tmp_path / "c.json")
    loaded = TrainConfig.load(path)
    assert loaded == config
    assert json.loads(path.read_text())["lr"] == 3e-4


def test_unknown_keys_and_bad_values_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown TrainConfig keys \\['learning_rate'\\]"):
        TrainConfig.from_dict({"learning_rate": 1.0})
    with pytest.raises(ValueError, match="mode must be one of"):
        TrainConfig(mode="partial")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="scale_range"):
        TrainConfig(scale_range=[2.0, 1.0])
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        TrainConfig.load(bad)


def test_flags_override_the_config_file(tmp_path):
    path = TrainConfig(steps=50, lr=1e-3, augment=True, data=["a"], resume="auto").save(tmp_path / "c.json")
    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    args = parser.parse_args(
        [
            "--steps",
            "7",
            "--no-augment",
            "--data",
            "b",
            "c",
            "--data",
            "d",
            "--scale-range",
            "0.5",
            "1.0",
            "--resume",
            "none",
            "--encoder",
            '{"embed_dim": 16, "depth": 1, "num_heads": 1, "global_attn_indexes": []}',
        ]
    )
    config = config_from_args(args, path)
    assert config.steps == 7 and config.lr == 1e-3 and config.augment is False
    assert config.data == ["b", "c", "d"] and config.scale_range == [0.5, 1.0] and config.resume is None
    assert config.encoder["embed_dim"] == 16


def test_print_config(tmp_path, capsys):
    path = TrainConfig(steps=3).save(tmp_path / "c.json")
    assert train_main([str(path), "--lr", "0.5", "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps"] == 3 and printed["lr"] == 0.5


def test_train_arguments_take_a_config_path():
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["run.json", "--mode", "decoder"])
    assert args.config == "run.json" and args.mode == "decoder" and args.lr is None


def test_focal_alpha_reaches_the_loss_and_is_checked():
    import torch

    from segany.training.losses import sam_mask_loss
    from segany.training.model_setup import simulation_settings

    logits = torch.full((1, 1, 4, 4), -1.0)
    foreground = torch.ones(1, 4, 4)
    focal = {}
    for alpha in (0.25, 0.5):
        weights = simulation_settings(TrainConfig(focal_alpha=alpha)).weights
        focal[alpha] = float(sam_mask_loss(logits, torch.zeros(1, 1), foreground, weights).focal[0])
    # Every pixel is foreground: the loss scales with alpha, -alpha (1 - p)^2 log p at p = sigmoid(-1).
    p = torch.sigmoid(torch.tensor(-1.0))
    assert focal[0.5] == pytest.approx(float(-0.5 * (1 - p) ** 2 * torch.log(p)), rel=1e-5)
    assert focal[0.5] == pytest.approx(2 * focal[0.25], rel=1e-5)
    with pytest.raises(ValueError, match="focal_alpha must be < 1"):
        TrainConfig(focal_alpha=1.0)


def test_focal_gamma_reaches_the_loss_and_is_checked():
    import torch

    from segany.training.losses import sam_mask_loss
    from segany.training.model_setup import simulation_settings

    logits = torch.full((1, 1, 4, 4), 1.5)
    foreground = torch.ones(1, 4, 4)
    p = torch.sigmoid(torch.tensor(1.5))
    for gamma in (0.0, 1.0, 2.0):
        weights = simulation_settings(TrainConfig(focal_alpha=0.5, focal_gamma=gamma)).weights
        focal = float(sam_mask_loss(logits, torch.zeros(1, 1), foreground, weights).focal[0])
        # -alpha (1 - p)^gamma log p on every (foreground) pixel; gamma 0 is weighted cross-entropy.
        assert focal == pytest.approx(float(-0.5 * (1 - p) ** gamma * torch.log(p)), rel=1e-5)
    with pytest.raises(ValueError, match="focal_gamma must be >= 0, got -1"):
        TrainConfig(focal_gamma=-1.0)
