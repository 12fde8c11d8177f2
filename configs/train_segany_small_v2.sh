#!/usr/bin/env bash
# Train segany_small_v2 (start, or resume from the last checkpoint): an EfficientNet-Lite0-shaped encoder
# started from ImageNet classification weights (the `backbone` extra), a fresh neck, and the prompt encoder
# and 128-wide mask decoder of the bundled segany_small (v1) as the decoder's starting point, trained on
# the training splits of all six shared datasets with copy-paste, orientation crops, scale/crop and colour
# jitter. Runs in the background at the lowest CPU priority on one torch thread; outputs (config.json,
# log.csv, checkpoints/, model.pt) go to /root/segany_runs/segany_small_v2, outside the work tree.
#   . .venv/bin/activate && bash configs/train_segany_small_v2.sh   (segany installed with the backbone extra;
#                                                    run it again after any stop to resume)
#   tail -f /root/segany_runs/segany_small_v2/train.log
# Stop it with: kill -INT <pid in /root/segany_runs/segany_small_v2/train.pid> (finishes the step,
# checkpoints, exits); a hard kill loses at most checkpoint_every (100) steps.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=/root/segany_runs/segany_small_v2
INIT=/root/segany_runs/init/lite0_imagenet_v1_decoder.safetensors
mkdir -p "$RUN"
if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
  echo "already running as pid $(cat "$RUN/train.pid")"; exit 0
fi
[ -f "$INIT" ] || python -m segany.training.backbone_init "$INIT" \
  --decoder-of segany/pretrained/segany_small.safetensors
echo "$(date -u +%FT%TZ) start/resume: $(git rev-parse --short HEAD)" >> "$RUN/train.log"
OMP_NUM_THREADS=1 setsid nohup nice -n 19 segany train configs/segany_small_v2.json --resume auto \
  >> "$RUN/train.log" 2>&1 < /dev/null &
echo $! > "$RUN/train.pid"
echo "training in the background as pid $! (log: $RUN/train.log)"
