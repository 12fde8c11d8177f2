#!/usr/bin/env bash
# Choose, calibrate and measure segany_small_v2 (after configs/train_segany_small_v2.sh).
#   bash configs/eval_segany_small_v2.sh select STEP...   validation mIoU of the run's checkpoints at STEPs
#   bash configs/eval_segany_small_v2.sh calibrate STEP   fold the IoU-head calibration (fitted on validation
#                                                         splits only) into that checkpoint -> model_calibrated.pt
#   bash configs/eval_segany_small_v2.sh test [MODEL]     the held-out test splits (default: the calibrated file)
# Validation: the first 12 images (3 objects each) of BSDS500, CCP and CamVid val, box + 1 click (human_seg,
# horses and DAVIS have no validation split). Test: horses, DAVIS and CamVid as in segany_small's model card
# (every image, up to 5 objects), BSDS500, CCP and human_seg as in the issue (first 40 images, up to 3 objects).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-/root/segany_runs/segany_small_v2}  # RUN=/root/segany_runs/segany_small_v2b for the next stage
OUT=/root/segany_runs/evals
mkdir -p "$OUT"
run() { OMP_NUM_THREADS=${THREADS:-1} nice -n 10 "$@"; }
case "${1:-}" in
  select)
    shift
    for step in "$@"; do
      ckpt="$RUN/checkpoints/step_$(printf %07d "$step").pt"
      run segany eval --model "$ckpt" --data shared:bsds500:val --data shared:ccp:val --data shared:camvid:val \
        --max-images 12 --max-objects 3 --max-clicks 1 --no-grabcut --name "$(basename "$RUN")@$step" --out "$OUT/$(basename "$RUN")_val_$step"
    done ;;
  calibrate)
    ckpt="$RUN/checkpoints/step_$(printf %07d "$2").pt"
    run python -m segany.training.calibrate_iou "$ckpt" --data shared:bsds500:val --data shared:ccp:val \
      --data shared:camvid:val --max-images 40 --max-objects 3 --out "$RUN/model_calibrated.pt" ;;
  test)
    model=${2:-$RUN/model_calibrated.pt}
    name=${NAME:-segany_small_v2}
    run segany eval --model "$model" --data shared:horses:test --data shared:davis:test --data shared:camvid:test \
      --max-objects 5 --max-clicks 5 --no-grabcut --name "$name" --out "$OUT/${name}_test_a"
    run segany eval --model "$model" --data shared:bsds500:test --data shared:ccp:test --data shared:human_seg:test \
      --max-images 40 --max-objects 3 --max-clicks 5 --no-grabcut --name "$name" --out "$OUT/${name}_test_b" ;;
  *) echo "usage: $0 select STEP... | calibrate STEP | test [MODEL]"; exit 2 ;;
esac
