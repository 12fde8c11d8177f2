"""The interactive training loop: prompt tokens per iteration, output tokens, mask feedback, learning."""

from __future__ import annotations

import itertools

import pytest
import torch
from training_testing import tiny_sam

from segany.training.loop import InteractiveSimulation, SimulationSettings, TrainBatch


def fixed_batch(size: int = 128) -> TrainBatch:
    """Two images (the first one with 2 objects), embedded by the model's own encoder."""
    masks = torch.zeros(3, size, size, dtype=torch.bool)
    masks[0, 10:60, 20:70] = True
    masks[1, 70:120, 70:100] = True
    masks[2, 30:90, 5:40] = True
    torch.manual_seed(1)
    images = torch.randn(2, 3, size, size)
    return TrainBatch(
        masks, torch.tensor([0, 0, 1]), torch.tensor([[size, size], [size, size], [96, size]]), images=images
    )


def record_decoder_calls(sim: InteractiveSimulation) -> list[dict]:
    calls: list[dict] = []
    decode = sim.decode

    def spy(embeddings, image_pe, prompts, mask_input, multimask, single_rows=None):
        logits, iou = decode(embeddings, image_pe, prompts, mask_input, multimask, single_rows)
        calls.append(
            {
                "labels": prompts.labels.clone(),
                "mask_input": mask_input,
                "multimask": multimask,
                "single_rows": single_rows,
                "coords": prompts.coords.clone(),
                "outputs": logits.shape[1],
                "logits": logits.detach(),
                "iou": iou.detach(),
            }
        )
        return logits, iou

    sim.decode = spy  # type: ignore[method-assign]
    return calls


def test_box_corners_as_points_embed_exactly_as_boxes():
    encoder = tiny_sam().prompt_encoder
    boxes = torch.tensor([[3.0, 4.0, 50.0, 60.0], [0.0, 0.0, 127.0, 127.0]])
    as_points = encoder.embed_points(boxes.reshape(2, 2, 2), torch.tensor([[2, 3], [2, 3]]), pad=False)
    torch.testing.assert_close(as_points, encoder.embed_boxes(boxes))


def test_eleven_iterations_with_the_papers_prompts_and_outputs():
    sim = InteractiveSimulation(tiny_sam(), SimulationSettings())
    calls = record_decoder_calls(sim)
    out = sim(fixed_batch(), torch.Generator().manual_seed(0))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert len(calls) == 11
    assert calls[0]["multimask"] and calls[0]["outputs"] == 3 and calls[0]["mask_input"] is None
    assert all(not c["multimask"] and c["outputs"] == 1 for c in calls[1:])
    assert all(c["mask_input"] is not None for c in calls[1:])
    tokens = [c["labels"].shape[1] for c in calls]
    added = [b - a for a, b in itertools.pairwise(tokens)]
    assert tokens[0] == 2 and sorted(added) == [0, 0] + [1] * 8 and added[-1] == 0
    # The mask fed back is the previous iteration's unthresholded logits of its highest-scoring output.
    first = calls[0]
    best = first["iou"].argmax(dim=1)
    expected = first["logits"][torch.arange(3), best][:, None]
    torch.testing.assert_close(calls[1]["mask_input"], expected)
    assert (calls[1]["mask_input"] != 0).any() and calls[1]["mask_input"].dtype.is_floating_point


def test_feedback_can_use_the_lowest_loss_mask():
    sim = InteractiveSimulation(
        tiny_sam(), SimulationSettings(num_points=1, num_mask_only=0, feedback="min_loss")
    )
    calls = record_decoder_calls(sim)
    sim(fixed_batch(), torch.Generator().manual_seed(0))
    fed = calls[1]["mask_input"][:, 0]
    candidates = calls[0]["logits"]
    assert any(torch.equal(fed[0], candidates[0, m]) for m in range(3))


def test_same_seed_same_loss_other_seed_other_prompts():
    sim = InteractiveSimulation(tiny_sam(), SimulationSettings(num_points=2, num_mask_only=1)).eval()
    batch = fixed_batch()
    a = sim(batch, torch.Generator().manual_seed(5)).loss
    b = sim(batch, torch.Generator().manual_seed(5)).loss
    c = sim(batch, torch.Generator().manual_seed(6)).loss
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("resolution", ["low", "full"])
def test_one_optimisation_step_lowers_the_loss_on_a_fixed_batch(resolution):
    settings = SimulationSettings(
        num_points=2, num_mask_only=1, loss_resolution=resolution, point_resolution=resolution
    )
    sim = InteractiveSimulation(tiny_sam(), settings).eval()  # eval: no drop path, same forward twice
    batch = fixed_batch()
    # AdamW's first step moves every parameter by about lr: 1e-3 can overshoot on this tiny model.
    optimizer = torch.optim.AdamW(sim.parameters(), lr=3e-4)
    before = sim(batch, torch.Generator().manual_seed(3)).loss
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = sim(batch, torch.Generator().manual_seed(3)).loss
    assert after < before - 1e-3, (before.item(), after.item())


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval():
    sim = InteractiveSimulation(
        tiny_sam(), SimulationSettings(num_points=1, num_mask_only=0), freeze_encoder=True
    )
    sim.train()
    assert not sim.sam.image_encoder.training and sim.sam.mask_decoder.training
    with torch.no_grad():
        embeddings = sim.sam.image_encoder(fixed_batch().images)
    batch = fixed_batch()
    batch.images, batch.embeddings = None, embeddings
    sim(batch, torch.Generator().manual_seed(0)).loss.backward()
    assert all(p.grad is None for p in sim.sam.image_encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in sim.sam.mask_decoder.parameters())


def test_batch_must_hold_images_or_embeddings():
    sim = InteractiveSimulation(tiny_sam())
    batch = fixed_batch()
    batch.images = None
    with pytest.raises(ValueError, match="exactly one of images or embeddings"):
        sim(batch, torch.Generator())


def test_decoder_checkpointing_gives_the_same_loss_and_gradients():
    batch = fixed_batch()
    grads, passes = [], []
    for flag in (False, True):
        settings = SimulationSettings(num_points=2, num_mask_only=1, checkpoint_decoder=flag)
        sim = InteractiveSimulation(tiny_sam(), settings).eval()
        calls: list[int] = []
        sim.sam.mask_decoder.transformer.register_forward_hook(lambda *_, calls=calls: calls.append(1))
        loss = sim(batch, torch.Generator().manual_seed(4)).loss
        loss.backward()
        passes.append(len(calls))
        grads.append((loss.detach(), [p.grad.clone() for p in sim.parameters()]))
    assert passes == [4, 8]  # 4 iterations; each recomputed once in backward when checkpointing
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("box_single_mask", [True, False])
def test_first_box_trains_the_single_mask_token_points_the_three(box_single_mask: bool) -> None:
    """Rows whose first prompt is a box see token 0 (repeated) at iteration 0; point rows tokens 1-3."""
    sam = tiny_sam()
    settings = SimulationSettings(
        box_probability=0.5, num_points=1, num_mask_only=0, box_single_mask=box_single_mask
    )
    sim = InteractiveSimulation(sam, settings)
    calls = record_decoder_calls(sim)
    batch = fixed_batch()
    for seed in range(20):  # until a batch mixes box and point rows
        calls.clear()
        sim(batch, torch.Generator().manual_seed(seed))
        is_box = calls[0]["labels"][:, -1] == 3  # box rows end with the bottom-right corner
        if is_box.any() and not is_box.all():
            break
    assert is_box.any() and not is_box.all()
    first = calls[0]
    # Independent: the decoder's 4 raw outputs for the same prompts.
    with torch.no_grad():
        embeddings = sam.image_encoder(batch.images)[batch.image_index]
        sparse = sam.prompt_encoder.embed_points(first["coords"], first["labels"], pad=False)
        dense = sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
            3, -1, *embeddings.shape[-2:]
        )
        logits, iou = sam.mask_decoder.predict_masks(
            embeddings, sam.prompt_encoder.get_dense_pe(), sparse, dense
        )
    for row in range(3):
        use_single = bool(is_box[row]) and box_single_mask
        expected_logits = logits[row, :1].expand(3, -1, -1) if use_single else logits[row, 1:]
        expected_iou = iou[row, :1].expand(3) if use_single else iou[row, 1:]
        torch.testing.assert_close(first["logits"][row], expected_logits, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(first["iou"][row], expected_iou, rtol=1e-4, atol=1e-4)
