#!/usr/bin/env bash
# Every GPU measurement in one run (under 8 minutes on an H100/H200), for a lent device.
# Usage (from the repository root): bench/gpu.sh OUT_DIR
# Needs qwen-tts' pinned transformers: where the machine has another, carry wheels in .whl/.
set -uo pipefail
out="${1:-bench-out}"
mkdir -p "$out"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"
run() {  # name, seconds, args...
    local name=$1 limit=$2; shift 2
    timeout "$limit" python3 bench/engine_speed.py --device cuda --json "$out/$name.json" "$@" \
        2>&1 | grep -v -e "flash-attn" -e '^\*\**$' | tee "$out/$name.log"
}
run gpu-0.6B 240 --size 0.6B --frames 50 --runs 3 --seeds 2 --batches 1,4,8 --checkpoint /tmp/ck-0.6B
run gpu-0.6B-eager 60 --size 0.6B --frames 30 --runs 1 --seeds 1 --batches 1 --no-graphs --skip-upstream --checkpoint /tmp/ck-0.6B
run gpu-1.7B 200 --size 1.7B --frames 50 --runs 2 --seeds 1 --batches 1,8 --checkpoint /tmp/ck-1.7B
