#!/usr/bin/env bash
# The container's environment: ROS, the venv with the pinned runtime, the built workspace.
set -e
source "/opt/ros/${ROS_DISTRO}/setup.bash"
source /opt/lhg_venv/bin/activate
source /ws/install/setup.bash
exec "$@"
