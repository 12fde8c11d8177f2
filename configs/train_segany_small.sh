#!/usr/bin/env bash
# Reproduce the bundled segany_small from scratch: five training stages, then the export into the package.
#   bash configs/train_segany_small.sh          (from the repository root; needs the shared data, see README)
# Each stage resumes where it stopped if interrupted (run the script again). On the project's 2-core CPU the
# stages took about 1.2 h, 1.6 h, 1.7 h, 0.3 h and 1.0 h of step time (see segany/pretrained/MODEL_CARD.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# Stage 1: 384 px from random weights, 2400 steps.
segany train configs/segany_small.json --resume auto
# Stage 2: 384 px from stage 1, more box prompts; the 512-px stage starts from its step-2000 checkpoint.
segany train configs/segany_small_stage2.json --steps 2000 --resume auto
# Stage 3: 512 px (the bundled model's input size), 2200 steps with the learning rate cut at 1500 and 1950.
segany train configs/segany_small_512.json --resume auto
# Stage 4: 400 steps at a low learning rate with 80% box prompts and CamVid weighted x2 (chosen over stage 3 by
# CamVid's validation split: box mIoU 43.5 vs 42.0).
segany train configs/segany_small_512_boxes.json --resume auto
# Stage 5: 1100 steps restarting at lr 1e-4 (cut at 750 and 1000), 70% box prompts, CamVid x2 (chosen over stage 4
# by CamVid's validation split: box mIoU 47.4 vs 43.5, 1 click 31.3 vs 28.0).
segany train configs/segany_small_512_stage5.json --resume auto
python -m segany.training.export_pretrained runs/segany_small_512_stage5
