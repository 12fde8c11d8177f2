#!/usr/bin/env bash
# Train segany_small_v2 (start, or resume from the last checkpoint) on the training splits of all six shared
# datasets (BSDS500 with every annotator, CCP, human_seg, CamVid, DAVIS, horses) with copy-paste, orientation
# crops, scale/crop and colour jitter. The shipped file is configs/segany_small_lite0_cycle3_640.json's run (the
# 640-px branch of a third cycle, after configs/segany_small_lite0_long.json and _restart_a50.json); the two conv
# stages below came first (segany_small's architecture fine-tuned, design chosen in configs/v2_probe.sh).
# One launcher per config, which names the run folder (out_dir) and the weights it starts from (init_checkpoint):
#   configs/segany_small_v2.json   stage 1, from the bundled segany_small (v1)    (default)
#   configs/segany_small_v2b.json  stage 2, from the bundled segany_small_v2 (stage 1's file then)
#   configs/segany_small_lite0_c.json, configs/segany_small_lite0_long.json  the EfficientNet-Lite0 encoder
#                                  (ImageNet) with stage 2's prompt encoder and decoder; their initial weights:
#     git show 907b8ae:segany/pretrained/segany_small_v2.safetensors > /root/segany_runs/init/v2_stage2.safetensors
#     python -m segany.training.backbone_init /root/segany_runs/init/lite0_imagenet_v2_decoder.safetensors \
#       --decoder-of /root/segany_runs/init/v2_stage2.safetensors     (needs the backbone extra)
#   configs/segany_small_lite0_restart.json, configs/segany_small_lite0_restart_a50.json  second cycles from the
#                                  long run's model.pt (its step 2700), focal alpha 0.25 and 0.5
#   configs/segany_small_lite0_cycle3.json  a third cycle (alpha 0.5, 2400 steps) from the shipped step (1600) of
#                                  the alpha-0.5 run; its initial weights (the checkpoint's model tensors):
#     python -c 'import torch; r = "/root/segany_runs/"; torch.save(torch.load(r + "segany_small_lite0_restart_a50/checkpoints/step_0001600.pt", weights_only=False)["model"], r + "init/a50_step1600.pt")'
#   configs/segany_small_lite0_cycle3_640.json  its branch at 640-px inputs from its step 2000 (the first decay):
#                                  the full checkpoint (optimizer and data position too) continues in a new folder
#     mkdir -p /root/segany_runs/segany_small_lite0_cycle3_640/checkpoints && cp \
#       /root/segany_runs/segany_small_lite0_cycle3/checkpoints/step_0002000.pt \
#       /root/segany_runs/segany_small_lite0_cycle3_640/checkpoints/last.pt
#   configs/segany_small_lite0_cycle4.json  a fourth cycle (512 px until its first decay, 3000 steps) from the
#                                  shipped step of cycle 3's 640-px branch (2300), and its 640-px branch
#                                  (configs/segany_small_lite0_cycle4_640.json, made from its step 2500 as above); its initial weights:
#     python -c 'import torch; r = "/root/segany_runs/"; torch.save(torch.load(r + "segany_small_lite0_cycle3_640/checkpoints/step_0002300.pt", weights_only=False)["model"], r + "init/cycle3_640_step2300.pt")'
#   configs/v2_probe/cycle3_gamma0.json  a 200-step probe of the focal loss's gamma (0: alpha-weighted
#                                  cross-entropy, focal weight 4) from cycle 3's step 1000, copied in the same way
#                                  as its last.pt; cycle 3's own step 1200 is the control
# Runs in the background at a low CPU priority on one torch thread; outputs (config.json, log.csv, train.log,
# checkpoints/, model.pt at the end) go to the config's out_dir, outside the work tree.
#   . .venv/bin/activate && bash configs/train_segany_small_v2.sh [CONFIG]   (run it again after any stop to resume)
#   tail -f <out_dir>/log.csv
# Stop it with: kill -INT <pid in <out_dir>/train.pid> (finishes the step, checkpoints, exits); a hard kill loses
# at most checkpoint_every (100) steps.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/segany_small_v2.json}
read -r RUN INIT < <(python -c 'import json, sys; c = json.load(open(sys.argv[1])); print(c["out_dir"], c["init_checkpoint"])' "$CONFIG")
mkdir -p "$RUN"
if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
  echo "already running as pid $(cat "$RUN/train.pid")"; exit 0
fi
[ -f "$INIT" ] || { echo "missing $INIT (the weights $CONFIG starts from)"; exit 1; }
echo "$(date -u +%FT%TZ) start/resume $CONFIG: $(git rev-parse --short HEAD)" >> "$RUN/train.log"
OMP_NUM_THREADS=1 setsid nohup nice -n 5 segany train "$CONFIG" --resume auto \
  >> "$RUN/train.log" 2>&1 < /dev/null &
echo $! > "$RUN/train.pid"
echo "training in the background as pid $! (log: $RUN/train.log)"
