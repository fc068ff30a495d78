#!/usr/bin/env bash
# The main job on a machine with no ROS distribution and no hardware: set-up if needed, the
# environment check, then the whole system end to end (lhg-ros demo): real speech and a moving
# face photograph through audio_features_node, head_pose_node and listener_node over real DDS.
# Outputs land in out/demo/: demo.png, demo.mp4, the inputs and the nodes' logs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
VENV=${VENV:-.venv}
"$VENV/bin/lhg-ros" doctor
echo
"$VENV/bin/lhg-ros" demo --output "${OUT:-out/demo}" "$@"
