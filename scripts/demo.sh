#!/usr/bin/env bash
# The main job on a machine with no ROS distribution and no hardware: set-up if needed, then the
# environment check and the end-to-end demo. Extra arguments go to `lhg-ros demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
VENV=${VENV:-.venv}
"$VENV/bin/lhg-ros" doctor
