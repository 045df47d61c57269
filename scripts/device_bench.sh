#!/usr/bin/env bash
# Real-GPU measurements (issues 6 and 17), run on a lent device machine (see docs/performance.md).
# Expects, carried beside the tree: .devbin/desktop.xz (a stripped release build of the
# desktop binary, xz-compressed) and .gl/*.deb (the Vulkan loader). Writes logs to $OUT.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export XDG_RUNTIME_DIR=/tmp/xdg
mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
xz -dc .devbin/desktop.xz >/tmp/desktop && chmod +x /tmp/desktop
B=/tmp/desktop
log() { echo "== $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
if ! $B info 2>&1 | grep -qi nvidia; then
  ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>&1
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
if ! $B info 2>&1 | grep -qi nvidia; then
  VK_LOADER_DEBUG=error,warn $B info 2>&1 | head -30
  exit 1
fi
$B info 2>&1 | head -12
log "ours: bench, one step per submission against about 100 ms of steps per submission"
timeout 120 $B bench --steps ${STEPS:-1000} --per-submission 1,auto --dispatches 2>&1 | tee "$OUT/bench_wgsl.txt"
log "ours: train 10 epochs"
timeout 150 $B train --epochs ${EPOCHS:-10} --out "$OUT/train" 2>&1 | grep -v "step .*/" | tee "$OUT/train.txt"
log "jax"
[ -n "${SKIP_JAX:-}" ] || PYTHONUNBUFFERED=1 timeout 200 python3 scripts/jax_bench.py --epochs ${EPOCHS:-10} ${JAX_ARGS:-} 2>&1 | grep -v Warning | tee "$OUT/jax.txt"
log "burn-wgpu: bench"
[ -n "${SKIP_BURN:-}" ] || timeout 60 $B bench --backend burn-wgpu --steps 200 --json 2>&1 | tail -3 | tee "$OUT/bench_burn.txt"
