"""The Trainer: exact resume, decoder-mode embedding cache, run outputs, fine-tuning, pluggable encoders."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from torch import nn
from training_testing import SEGDATA, tiny_config

from segany.checkpoint import read_state_dict
from segany.registry import build_sam_from_encoder
from segany.training import TrainConfig, Trainer, build_model
from segany.training.checkpointing import last_path, load_training_state


def params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_resume_reproduces_the_next_step_bit_for_bit(tmp_path):
    # Everything random is on: jitter, flips, colour, drop path, box/point choice, prefetching, accumulation.
    common = {
        "drop_path_rate": 0.3,
        "grad_accum_steps": 2,
        "num_workers": 1,
        "warmup_steps": 1,
        "lr_decay_steps": [2, 5],
    }
    straight = Trainer(tiny_config(tmp_path / "a", steps=3, **common))
    straight.train()
    interrupted = Trainer(tiny_config(tmp_path / "b", steps=2, **common))
    interrupted.train()
    before_resume = params(interrupted.sam)
    resumed = Trainer(tiny_config(tmp_path / "c", steps=3, resume=str(last_path(tmp_path / "b")), **common))
    assert resumed.step == 2
    resumed.train()
    after, expected = params(resumed.sam), params(straight.sam)
    assert any(not torch.equal(after[k], before_resume[k]) for k in after)  # the resumed step did train
    assert all(torch.equal(after[k], expected[k]) for k in expected)
    assert resumed.loader.state_dict() == straight.loader.state_dict()
    state_a = straight.optimizer.state_dict()["state"]
    state_c = resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(state_a[i]["exp_avg_sq"], state_c[i]["exp_avg_sq"]) for i in state_a)


def test_without_the_data_position_the_resumed_step_differs(tmp_path):
    # The same comparison fails when the loader restarts from the beginning: the test above can fail.
    common = {"warmup_steps": 1}
    straight = Trainer(tiny_config(tmp_path / "a", steps=2, **common))
    straight.train()
    interrupted = Trainer(tiny_config(tmp_path / "b", steps=1, **common))
    interrupted.train()
    resumed = Trainer(tiny_config(tmp_path / "c", steps=2, resume=str(last_path(tmp_path / "b")), **common))
    fresh = Trainer(tiny_config(tmp_path / "d", steps=1, **common)).loader.state_dict()
    resumed.loader.load_state_dict(fresh)
    resumed.train()
    assert any(
        not torch.equal(a, b) for a, b in zip(params(resumed.sam).values(), params(straight.sam).values())
    )


def test_decoder_mode_caches_embeddings_and_skips_the_encoder_on_the_second_epoch(tmp_path):
    config = tiny_config(
        tmp_path / "run",
        mode="decoder",
        steps=4,
        hflip_prob=0.0,
        data=[f"folder:{SEGDATA / 'weizmann_horse'}"],
    )  # 2 images: steps 3-4 are epoch 2
    trainer = Trainer(config)
    encoder_calls: list[int] = []
    trainer.sam.image_encoder.register_forward_hook(lambda m, i, o: encoder_calls.append(trainer.step))
    encoder_before = params(trainer.sam.image_encoder)
    decoder_before = params(trainer.sam.mask_decoder)
    trainer.train()
    assert encoder_calls == [0, 1]  # one call per image, both in the first epoch
    assert trainer.cache is not None and trainer.cache.hits == 2
    assert len(list(trainer.cache.folder.glob("*.pt"))) == 2
    assert trainer.config.augment and trainer.loader.next_sample().cacheable  # jitter is off in decoder mode
    encoder_after, decoder_after = params(trainer.sam.image_encoder), params(trainer.sam.mask_decoder)
    assert all(torch.equal(encoder_before[k], encoder_after[k]) for k in encoder_before)
    assert any(not torch.equal(decoder_before[k], decoder_after[k]) for k in decoder_before)


def test_a_run_writes_config_log_checkpoints_and_weights(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(run, steps=3, checkpoint_every=2, keep_checkpoints=1))
    trainer.train()
    saved = TrainConfig.load(run / "config.json")
    assert saved == trainer.config and saved.lr_decay_steps == [100, 200] and saved.amp == "none"
    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and all(float(r["loss"]) > 0 for r in rows)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt", "step_0000003.pt"]
    state = load_training_state(run / "checkpoints" / "last.pt")
    assert state["step"] == 3 and len(state["rank_states"]) == 1
    fresh = build_model(saved)
    fresh.load_state_dict(read_state_dict(run / "model.pt"))
    assert all(
        torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), trainer.sam.state_dict().values())
    )
    fresh.load_state_dict(read_state_dict(run / "checkpoints" / "last.pt"))  # the weights inside a checkpoint
    json.loads((run / "config.json").read_text())


def test_finetune_starts_from_the_checkpoint_and_needs_one(tmp_path):
    source = build_model(tiny_config(tmp_path))
    torch.save(source.state_dict(), tmp_path / "start.pth")
    trainer = Trainer(
        tiny_config(tmp_path / "ft", mode="finetune", init_checkpoint=str(tmp_path / "start.pth"), seed=123)
    )
    assert all(
        torch.equal(a, b) for a, b in zip(trainer.sam.state_dict().values(), source.state_dict().values())
    )
    with pytest.raises(ValueError, match="finetune needs init_checkpoint"):
        Trainer(tiny_config(tmp_path / "ft2", mode="finetune"))


def test_a_resumed_run_does_not_read_its_initial_checkpoint_again(tmp_path):
    # The initial checkpoint may be pruned once the run has begun; resuming restores the run's own weights.
    start = tmp_path / "start.pth"
    torch.save(build_model(tiny_config(tmp_path)).state_dict(), start)
    common = {"mode": "finetune", "init_checkpoint": str(start), "seed": 123}
    first = Trainer(tiny_config(tmp_path / "ft", steps=1, **common))
    first.train()
    trained = params(first.sam)
    start.unlink()
    resumed = Trainer(tiny_config(tmp_path / "ft", steps=2, resume="auto", **common))
    assert resumed.step == 1
    assert all(torch.equal(v, trained[k]) for k, v in params(resumed.sam).items())
    with pytest.raises(Exception, match="start.pth"):  # a fresh run still needs it
        Trainer(tiny_config(tmp_path / "ft_new", steps=1, **common))


class PatchConvEncoder(nn.Module):
    """A non-ViT encoder: 16 x 16 patches -> 32 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 32, kernel_size=16, stride=16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_any_encoder_attached_with_build_sam_from_encoder_trains(tmp_path):
    torch.manual_seed(0)
    sam = build_sam_from_encoder(PatchConvEncoder(), image_size=128, grid=8, prompt_embed_dim=32)
    before = sam.image_encoder.conv.weight.detach().clone()
    trainer = Trainer(tiny_config(tmp_path, steps=1, warmup_steps=0), model=sam)
    metrics = trainer.train()
    assert metrics["loss"] > 0 and not torch.equal(before, sam.image_encoder.conv.weight)


def test_ctrl_c_finishes_the_step_checkpoints_and_stops(tmp_path):
    import os
    import signal

    trainer = Trainer(tiny_config(tmp_path, steps=5, checkpoint_every=100))
    take_step = trainer.train_step

    def step_then_interrupt() -> dict[str, float]:
        metrics = take_step()
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the run
        return metrics

    trainer.train_step = step_then_interrupt  # type: ignore[method-assign]
    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert trainer.step == 2
    assert load_training_state(last_path(tmp_path))["step"] == 2
    assert signal.getsignal(signal.SIGINT) is handler_before  # the previous handler is back


class BatchNormConvEncoder(nn.Module):
    """A patch conv with batch norm, whose running statistics would drift if the encoder stayed in train mode."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 32, kernel_size=16, stride=16)
        self.norm = nn.BatchNorm2d(32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


def test_train_only_the_iou_head_leaves_every_other_tensor_and_buffer_unchanged(tmp_path):
    torch.manual_seed(0)
    sam = build_sam_from_encoder(BatchNormConvEncoder(), image_size=128, grid=8, prompt_embed_dim=32)
    before = params(sam)
    head = "mask_decoder.iou_prediction_head."
    config = tiny_config(tmp_path, steps=2, warmup_steps=0, train_only=[head])
    Trainer(config, model=sam).train()
    after = params(sam)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith(head) for name in changed)
    # Without train_only the same run moves the encoder's batch-norm statistics and the mask decoder.
    torch.manual_seed(0)
    sam = build_sam_from_encoder(BatchNormConvEncoder(), image_size=128, grid=8, prompt_embed_dim=32)
    Trainer(tiny_config(tmp_path / "all", steps=2, warmup_steps=0), model=sam).train()
    moved = {name for name, value in params(sam).items() if not torch.equal(before[name], value)}
    assert "image_encoder.norm.running_mean" in moved
    assert any(name.startswith("mask_decoder.output_upscaling") for name in moved)


def test_train_only_prefixes_must_name_parameters(tmp_path):
    with pytest.raises(
        ValueError, match=r"train_only prefixes \['mask_decoder.iou_head.'\] match no parameter"
    ):
        Trainer(tiny_config(tmp_path, train_only=["mask_decoder.iou_head."]))
    with pytest.raises(ValueError, match="train_only must be a list of non-empty parameter-name prefixes"):
        tiny_config(tmp_path, train_only="mask_decoder.")
