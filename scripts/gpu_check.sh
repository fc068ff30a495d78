#!/usr/bin/env bash
# The GPU check (scripts/gpu_check.py): on a machine with an NVIDIA GPU, find or install what
# it needs into a venv, then run it; it prints one table and exits 1 when a check failed.
# Without a GPU: one line, exit 0. Options: scripts/gpu_check.sh --help.
#
# Works offline: the venv sees the machine's own torch, TensorRT and onnxruntime-gpu
# (--system-site-packages, and the packages of the venv it is made from); what is still missing
# comes from wheels in shared/wheels or ../shared/wheels, then from pip's cache or index where
# reachable.
#   GPU_CHECK_VENV    the venv (default out/gpu-check/venv)
#   GPU_CHECK_WHEELS  a folder of wheels installed first as they are (--no-deps), e.g. the ROS
#                     wheels for this Python, carried to a machine that reaches no index
#   PYTHON            the Python that makes it (default python3)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
NVIDIA_SMI=${GPU_CHECK_NVIDIA_SMI:-nvidia-smi}  # (tests point it elsewhere)

# Options first, with the system Python (the module imports only the standard library at the
# top): --help and a bad option answer the same with or without a GPU.
for arg in "$@"; do
  case $arg in -h|--help) exec "$PYTHON" scripts/gpu_check.py --help ;; esac
done
"$PYTHON" scripts/gpu_check.py --validate-only "$@"

if ! command -v "$NVIDIA_SMI" >/dev/null; then
  echo "gpu-check: no NVIDIA GPU here ($NVIDIA_SMI not found); nothing to check"
  exit 0
fi
if ! gpus=$("$NVIDIA_SMI" -L 2>/dev/null) || ! grep -q '^GPU ' <<<"$gpus"; then
  echo "gpu-check: no NVIDIA GPU here ($NVIDIA_SMI -L lists none); nothing to check"
  exit 0
fi

log() { printf '[gpu-check] %s\n' "$*" >&2; }
log "$(head -n 1 <<<"$gpus")"

VENV=${GPU_CHECK_VENV:-out/gpu-check/venv}
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV from $("$PYTHON" --version 2>&1) (it sees this Python's packages)"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv --system-site-packages "$VENV"
  # Made from a venv (where CUDA images keep torch), a venv sees the base Python's packages,
  # not that venv's: a .pth adds them (after the new venv's own).
  "$PYTHON" -c 'import sys, site; sys.prefix != sys.base_prefix and print("\n".join(site.getsitepackages()))' \
    >"$("$VENV/bin/python" -c 'import site; print(site.getsitepackages()[0])')/lhg_parent_venv.pth"
fi
VPY="$VENV/bin/python"
if [ -n "${GPU_CHECK_WHEELS:-}" ]; then  # a complete set for this Python: installed as it is
  log "installing the wheels in $GPU_CHECK_WHEELS"
  "$VPY" -m pip install -q --disable-pip-version-check --no-index --no-deps \
    "$GPU_CHECK_WHEELS"/*.whl
fi

find_links=()
for folder in ${GPU_CHECK_WHEELS:-} shared/wheels ../shared/wheels; do
  [ -d "$folder" ] && find_links+=(--find-links "$folder")
done
pip_install() {  # quiet, no retries: offline, a missing wheel fails in seconds
  "$VPY" -m pip install -q --disable-pip-version-check --progress-bar off --retries 0 \
    --timeout 15 "${find_links[@]}" "$@" >/dev/null 2>&1
}
has() { "$VPY" -c "import $1" >/dev/null 2>&1; }

# What the check imports (listener_node needs only numpy, PyYAML and ROS of the runtime):
# import name -> what pip installs when it is missing (ROS: the wheels of setup.py's ros extra).
# onnxruntime-gpu first: the CPU wheel would shadow a GPU build installed after it.
declare -A wanted=(
  [numpy]='numpy>=1.24,<2' [yaml]=PyYAML [safetensors]=safetensors
  [onnxruntime]=onnxruntime-gpu [torch]=torch [tensorrt]=tensorrt
  [rclpy]='ros-rclpy ros-rmw-fastrtps-cpp ros-std-msgs ros-sensor-msgs ros-geometry-msgs
           ros-trajectory-msgs ros-visualization-msgs ros-diagnostic-msgs ros-lifecycle-msgs
           ros-builtin-interfaces ros-rcl-interfaces'
)
modules=(numpy yaml safetensors onnxruntime torch tensorrt rclpy)
[[ " $* " == *' --no-tensorrt '* ]] && modules=("${modules[@]/tensorrt}")
missing=()
for module in "${modules[@]}"; do
  [ -n "$module" ] || continue
  has "$module" && continue
  log "installing ${wanted[$module]%% *} for $module ..."
  # shellcheck disable=SC2086  # (the ROS entry is a list)
  pip_install ${wanted[$module]} || { [ "$module" = onnxruntime ] && pip_install onnxruntime; } \
    || true
  has "$module" || missing+=("$module")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "gpu-check: missing ${missing[*]} (not on this machine's Python, in wheels or reachable" \
       "from pip): the checks that need them will fail"
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$VPY" scripts/gpu_check.py "$@"
