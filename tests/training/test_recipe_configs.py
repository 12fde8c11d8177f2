"""The shipped training recipe (configs/): every config loads, the stages of configs/train_segany_small.sh chain
into each other, the export reads the last stage, and no stage trains on a held-out split."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from segany.registry import resolve_config
from segany.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
RECIPE = CONFIGS / "train_segany_small.sh"


def recipe_commands() -> list[list[str]]:
    """The script's command lines (comments and shell set-up dropped), split into words."""
    lines = [line.strip() for line in RECIPE.read_text(encoding="utf-8").splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith(("#", "set ", "cd "))]


def recipe_stages() -> list[TrainConfig]:
    """The config of each `segany train` stage, in the script's order."""
    return [
        TrainConfig.load(CONFIGS.parent / words[2])
        for words in recipe_commands()
        if words[:2] == ["segany", "train"]
    ]


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.json")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    config = TrainConfig.load(path)
    assert config.out_dir, f"{path.name} names no out_dir"


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.json")), ids=lambda p: p.name)
def test_no_shipped_config_trains_on_a_held_out_split(path: Path) -> None:
    for spec in TrainConfig.load(path).data:
        match = re.fullmatch(r"shared:(\w+):(\w+)(@[\d.]+)?", spec)
        assert match is not None, f"{path.name}: unexpected data spec {spec!r}"
        assert match.group(2) == "train", f"{path.name} trains on {spec!r}, a held-out split"


def test_recipe_stages_chain_and_the_export_reads_the_last_one() -> None:
    stages = recipe_stages()
    assert len(stages) >= 2
    assert stages[0].init_checkpoint is None, "stage 1 starts from random weights"
    for index, stage in enumerate(stages[1:], start=1):
        assert stage.init_checkpoint is not None, f"stage {index + 1} names no init_checkpoint"
        parent = Path(stage.init_checkpoint).parts[:2]  # runs/<stage dir>
        previous = Path(stages[index - 1].out_dir).parts[:2]
        assert parent == previous, (
            f"stage {index + 1} starts from {stage.init_checkpoint}, not from stage {index}'s {previous}"
        )
    exports = [w for w in recipe_commands() if w[:3] == ["python", "-m", "segany.training.export_pretrained"]]
    assert len(exports) == 1 and recipe_commands()[-1] == exports[0], "the script ends with one export"
    assert Path(exports[0][3]) == Path(stages[-1].out_dir)
    # export_pretrained refuses a run trained at another size than the registry entry it ships as.
    assert stages[-1].model == "segany_small"
    assert stages[-1].image_size == resolve_config("segany_small").image_size


@pytest.mark.parametrize("name", ["segany_small_v2", "segany_small_v2b"])
def test_v2_launcher_trains_each_config_from_the_file_it_checks(name: str) -> None:
    # configs/train_segany_small_v2.sh [CONFIG] takes its run folder and the initial weights it checks for from
    # the config it trains (stage 2 starts from the bundled v2 file), so the two cannot disagree.
    script = (CONFIGS / "train_segany_small_v2.sh").read_text(encoding="utf-8")
    config = TrainConfig.load(CONFIGS / f"{name}.json")
    assert 'segany train "$CONFIG" --resume auto' in script
    assert "CONFIG=${1:-configs/segany_small_v2.json}" in script
    assert 'c["out_dir"], c["init_checkpoint"]' in script
    assert f"configs/{name}.json" in script  # listed in the launcher's usage
    assert (REPO / config.init_checkpoint).is_file()
    assert config.out_dir and Path(config.out_dir).name == name
    assert resolve_config(config.model).image_size == config.image_size
