# lhg_ros on a Jetson: JetPack 6 (L4T r36, Ubuntu 22.04, Python 3.10, CUDA 12, TensorRT 10.3)
# with ROS 2 Humble. Route (a) of the README inside a container: ROS from apt, rosdep for what
# package.xml declares, the pinned Python runtime (requirements.txt, the file CI resolves for
# linux aarch64 / CPython 3.10) in a venv that sees the system's rclpy, TensorRT and torch.
#
#   docker build -f docker/jetson-humble.Dockerfile -t lhg_ros:jetson .        # on the Jetson
#   docker run --rm -it --runtime nvidia --network host -v lhg_engines:/cache lhg_ros:jetson \
#       ros2 launch lhg_ros robot_head.launch.py -- backend:=tensorrt
#
# The TensorRT engine is built on first start (minutes) and kept in the /cache volume.
ARG BASE=nvcr.io/nvidia/l4t-jetpack:r36.4.0
FROM ${BASE}

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 ROS_DISTRO=humble
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && curl -fsSL https://raw.githubusercontent.com/ros/rosdistro/master/ros.key \
         -o /usr/share/keyrings/ros-archive-keyring.gpg \
    && echo "deb [arch=arm64 signed-by=/usr/share/keyrings/ros-archive-keyring.gpg]" \
         "http://packages.ros.org/ros2/ubuntu jammy main" > /etc/apt/sources.list.d/ros2.list \
    && apt-get update && apt-get install -y --no-install-recommends \
         ros-humble-ros-base python3-rosdep python3-colcon-common-extensions python3-venv \
         python3-pip \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /ws
# The declarations first, so that a code change does not redo the installs.
COPY package.xml requirements.txt src/lhg_ros/
RUN rosdep init && rosdep update --rosdistro humble && apt-get update \
    && rosdep install --from-paths src --ignore-src -y --rosdistro humble \
         --skip-keys "rviz2 python3-pyaudio" \
    && rm -rf /var/lib/apt/lists/*
# --system-site-packages: rclpy (apt), TensorRT (JetPack's python3-libnvinfer) and, if
# installed, NVIDIA's torch stay visible; pip adds only the pinned runtime (no torch).
RUN python3 -m venv --system-site-packages /opt/lhg_venv && touch /opt/lhg_venv/COLCON_IGNORE \
    && /opt/lhg_venv/bin/pip install --no-cache-dir -r src/lhg_ros/requirements.txt

COPY . src/lhg_ros
RUN source /opt/ros/humble/setup.bash && source /opt/lhg_venv/bin/activate \
    && python -m colcon build --packages-select lhg_ros && rm -rf build log

# Built engines live here (tensorrt.engine_cache_dir defaults to $XDG_CACHE_HOME/lhg_ros/engines).
ENV XDG_CACHE_HOME=/cache
VOLUME /cache
COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "run", "lhg_ros", "lhg-ros", "doctor"]
