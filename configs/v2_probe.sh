#!/usr/bin/env bash
# The measurement that chose segany_small_v2's encoder: which frozen encoder's features let a fresh decoder
# segment new domains better, v1's (trained on horses, DAVIS, CamVid) or EfficientNet-Lite0's (ImageNet)?
# Each probe trains a fresh 128-wide decoder for 200 steps on the v2 training mix with the encoder frozen
# (decoder mode, cached embeddings; Lite0's neck stays at its random initialisation, a handicap), then both
# are evaluated with box prompts and 1 click on the first 12 images (3 objects each) of the validation splits.
# The two probes run side by side, one torch thread each.
#   bash configs/v2_probe.sh      (from the repository root; needs the shared data and the backbone extra)
set -euo pipefail
cd "$(dirname "$0")/.."
INIT=/root/segany_runs/init
mkdir -p "$INIT"
python -m segany.training.backbone_init "$INIT/segany_small_v1_encoder.safetensors" \
  --encoder-of segany/pretrained/segany_small.safetensors
python -m segany.training.backbone_init "$INIT/lite0_imagenet_encoder.safetensors"
probe() {
  OMP_NUM_THREADS=1 nice -n 19 segany train "configs/v2_probe/probe_$1.json" --resume auto
  OMP_NUM_THREADS=1 nice -n 19 segany eval --model "/root/segany_runs/probe_$1" --data shared:bsds500:val \
    --data shared:ccp:val --data shared:camvid:val --max-images 12 --max-objects 3 --max-clicks 1 --no-grabcut \
    --out "/root/segany_runs/probe_$1/eval_val"
}
probe v1_features &
probe lite0_features &
wait
