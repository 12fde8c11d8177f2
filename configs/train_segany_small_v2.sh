#!/usr/bin/env bash
# Train segany_small_v2 (start, or resume from the last checkpoint): segany_small's architecture fine-tuned from
# the bundled segany_small (v1) on the training splits of all six shared datasets (BSDS500 with every
# annotator, CCP, human_seg, CamVid, DAVIS, horses) with copy-paste, orientation crops, scale/crop and colour
# jitter (design chosen in configs/v2_probe.sh). Runs in the background at the lowest CPU priority on one torch
# thread; outputs (config.json, log.csv, train.log, checkpoints/, model.pt at the end) go to
# /root/segany_runs/segany_small_v2, outside the work tree.
#   . .venv/bin/activate && bash configs/train_segany_small_v2.sh     (run it again after any stop to resume)
#   tail -f /root/segany_runs/segany_small_v2/log.csv
# Stop it with: kill -INT <pid in /root/segany_runs/segany_small_v2/train.pid> (finishes the step,
# checkpoints, exits); a hard kill loses at most checkpoint_every (100) steps.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=/root/segany_runs/segany_small_v2
INIT=segany/pretrained/segany_small.safetensors
mkdir -p "$RUN"
if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
  echo "already running as pid $(cat "$RUN/train.pid")"; exit 0
fi
[ -f "$INIT" ] || { echo "missing $INIT (the bundled v1 weights this run starts from)"; exit 1; }
echo "$(date -u +%FT%TZ) start/resume: $(git rev-parse --short HEAD)" >> "$RUN/train.log"
OMP_NUM_THREADS=1 setsid nohup nice -n 5 segany train configs/segany_small_v2.json --resume auto \
  >> "$RUN/train.log" 2>&1 < /dev/null &
echo $! > "$RUN/train.pid"
echo "training in the background as pid $! (log: $RUN/train.log)"
