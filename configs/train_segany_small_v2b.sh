#!/usr/bin/env bash
# Train segany_small_v2b (start, or resume from the last checkpoint): the next stage of segany_small_v2, from the
# bundled v2 weights, on the same six training splits with horses and DAVIS weighted up again (v2 partly forgot
# them), CCP and human_seg at x2, lr 2e-4 decayed x0.1 at 850 and 1100 of 1200 steps (configs/segany_small_v2b.json).
# Same mechanics as configs/train_segany_small_v2.sh: lowest priority, one torch thread, outputs in
# /root/segany_runs/segany_small_v2b.
#   . .venv/bin/activate && bash configs/train_segany_small_v2b.sh     (run it again after any stop to resume)
# Stop it with: kill -INT <pid in /root/segany_runs/segany_small_v2b/train.pid>
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=/root/segany_runs/segany_small_v2b
INIT=segany/pretrained/segany_small_v2.safetensors
mkdir -p "$RUN"
if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
  echo "already running as pid $(cat "$RUN/train.pid")"; exit 0
fi
[ -f "$INIT" ] || { echo "missing $INIT (the bundled v2 weights this run starts from)"; exit 1; }
echo "$(date -u +%FT%TZ) start/resume: $(git rev-parse --short HEAD)" >> "$RUN/train.log"
OMP_NUM_THREADS=1 setsid nohup nice -n 5 segany train configs/segany_small_v2b.json --resume auto \
  >> "$RUN/train.log" 2>&1 < /dev/null &
echo $! > "$RUN/train.pid"
echo "training in the background as pid $! (log: $RUN/train.log)"
