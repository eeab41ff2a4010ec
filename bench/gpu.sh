#!/usr/bin/env bash
# Every GPU measurement in one run (under 8 minutes on an H100/H200), for a lent device.
# Usage (from the repository root): bench/gpu.sh OUT_DIR [STAGE ...]
#   stages: engine (our frame loop against upstream generate, 0.6B and 1.7B)
#           e2e    (the real server over Wyoming: first audio, and 1/4/8 rooms at once)
#   default: both.
# Needs qwen-tts' pinned transformers: where the machine has another, carry wheels in .whl/.
set -uo pipefail
out="${1:-bench-out}"
shift || true
stages="${*:-engine e2e}"
mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"
quiet() { grep -v -e "flash-attn" -e '^\*\**$'; }
engine() {  # name, seconds, args...
    local name=$1 limit=$2; shift 2
    timeout "$limit" python3 bench/engine_speed.py --device cuda --json "$out/$name.json" "$@" \
        2>&1 | quiet | tee "$out/$name.log"
}
checkpoint() {  # size -> folder, built once
    local folder="/tmp/ck-$1"
    [ -f "$folder/config.json" ] || python3 -m tests.checkpoints "$folder" --kind custom_voice --size "$1" >&2
    echo "$folder"
}
if [[ " $stages " == *" engine "* ]]; then
    engine gpu-0.6B 240 --size 0.6B --frames 50 --runs 3 --seeds 2 --batches 1,4,8 --checkpoint "$(checkpoint 0.6B)"
    engine gpu-0.6B-eager 60 --size 0.6B --frames 30 --runs 1 --seeds 1 --batches 1 --no-graphs --skip-upstream --checkpoint "$(checkpoint 0.6B)"
    engine gpu-1.7B 200 --size 1.7B --frames 50 --runs 2 --seeds 1 --batches 1,8 --checkpoint "$(checkpoint 1.7B)"
fi
if [[ " $stages " == *" e2e "* ]]; then
    ck="$(checkpoint 0.6B)"
    timeout 180 python3 bench/ttfa.py --device cuda --checkpoint "$ck" --runs 5 --quiet \
        2>&1 | quiet | tee "$out/e2e-ttfa.log"
    timeout 200 python3 bench/load.py --device cuda --checkpoint "$ck" --max-batch 1,8 \
        --clients 1,4,8 --rounds 2 --quiet --json "$out/e2e-load.json" 2>&1 | quiet | tee "$out/e2e-load.log"
fi
