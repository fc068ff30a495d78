#!/usr/bin/env bash
# Test set-up only (never the runtime install): the real ROS 2 launch, launch_ros,
# launch_testing and the composition_interfaces / hri_msgs / tf2_msgs / audio_common_msgs (4.x)
# interface packages, from the wheels in ../shared/wheels/ros2-launch (built from their upstream
# sources for this Python). Without that folder nothing is installed and the tests that need
# them skip, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
WHEELS=${LAUNCH_WHEELS:-../shared/wheels/ros2-launch}
log() { printf '\033[1m[launch wheels]\033[0m %s\n' "$*" >&2; }

if [ ! -f "$WHEELS/SHA256SUMS" ]; then
  log "no $WHEELS: the launch, ROS4HRI and audio_common tests will be skipped"
  exit 0
fi
PACKAGES="ros-launch ros-launch-xml ros-launch-yaml ros-launch-ros ros-launch-testing
  ros-launch-testing-ros ros-composition-interfaces ros-hri-msgs ros-tf2-msgs
  ros-audio-common-msgs"
stamp="$VENV/.launch-wheels-installed"
# (The stamp covers the list too, so a package added here is installed into an existing venv.)
want=$({ cat "$WHEELS/SHA256SUMS"; echo "$PACKAGES"; } | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
log "installing launch, launch_ros, launch_testing, hri_msgs, tf2_msgs, audio_common_msgs from $WHEELS"
# (The grep drops pip's notes about local index folders that some machines configure.)
# shellcheck disable=SC2086 # PACKAGES is a list of names
"$VENV/bin/python" -m pip install -q --progress-bar off --find-links "$WHEELS" $PACKAGES \
  2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
# rclpy's dependencies bring lark-parser 0.12 and launch brings lark 1.x; both own the `lark`
# module and launch needs 1.x, so it is installed last.
"$VENV/bin/python" -m pip install -q --progress-bar off --force-reinstall --no-deps 'lark>=1.1' \
  2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
echo "$want" > "$stamp"
