"""The Trainer with copy-paste and orientation crops: off leaves the sample stream as it was, on changes it
and still resumes bit for bit."""

from __future__ import annotations

import numpy as np
import torch
from training_testing import tiny_config

from segany.training import Trainer
from segany.training.augment import prepare_sample
from segany.training.checkpointing import last_path
from segany.training.data import MixedSampler
from segany.training.model_setup import augment_settings, mask_selection


def _expected_first_samples(trainer: Trainer, count: int) -> list:
    """The first prepared samples recomputed without mixing, from the sampler and seeds alone."""
    cfg = trainer.config
    sampler = MixedSampler(
        [len(s.reader) for s in trainer.loader.sources], [s.weight for s in trainer.loader.sources], cfg.seed
    )
    out = []
    for position in range(count):
        k, index = sampler.next()
        rng = np.random.default_rng([cfg.seed, position])
        sample = trainer.loader.sources[k].reader[index]
        out.append(
            prepare_sample(sample, trainer.sam.image_size, augment_settings(cfg), mask_selection(cfg), rng)
        )
    return out


def test_mixing_off_keeps_the_stream_and_on_changes_it(tmp_path):
    plain = Trainer(tiny_config(tmp_path / "plain"))
    expected = _expected_first_samples(plain, 3)
    got = [plain.loader.next_sample() for _ in range(3)]
    for a, b in zip(got, expected):
        assert b is not None and torch.equal(a.image, b.image) and torch.equal(a.masks, b.masks)
    mixed = Trainer(
        tiny_config(
            tmp_path / "mixed", copy_paste_prob=1.0, orientation_crop_prob=1.0, scale_range=[1.0, 1.0]
        )
    )
    first = mixed.loader.next_sample()
    # Orientation crops turn the landscape fixture photos portrait: without scale jitter the content (3 x h x w)
    # fills the frame's height only.
    assert first.image.shape[1] == mixed.sam.image_size > first.image.shape[2]
    plain.close()
    mixed.close()


def test_resume_with_mixing_is_bit_for_bit(tmp_path):
    common = {"copy_paste_prob": 0.5, "orientation_crop_prob": 0.5, "num_workers": 1, "warmup_steps": 1}
    straight = Trainer(tiny_config(tmp_path / "a", steps=3, **common))
    straight.train()
    Trainer(tiny_config(tmp_path / "b", steps=2, **common)).train()
    resumed = Trainer(tiny_config(tmp_path / "c", steps=3, resume=str(last_path(tmp_path / "b")), **common))
    resumed.train()
    expected = straight.sam.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in resumed.sam.state_dict().items())
