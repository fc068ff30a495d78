# lhg_ros on an x86_64 PC: Ubuntu 24.04, Python 3.12, ROS 2 Jazzy, ONNX Runtime on the CPU.
# Route (a) of the README inside a container: ROS from apt, rosdep for what package.xml
# declares, the pinned Python runtime (requirements.txt, the file CI resolves for linux x86_64 /
# CPython 3.12) in a venv that sees the system's rclpy (pip cannot touch the system Python on
# 24.04: PEP 668).
#
#   docker build -f docker/x86_64-jazzy.Dockerfile -t lhg_ros:jazzy .
#   docker run --rm -it --network host -v lhg_engines:/cache lhg_ros:jazzy \
#       ros2 launch lhg_ros lhg.launch.py output:=robot
ARG BASE=ros:jazzy-ros-base
FROM ${BASE}

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

WORKDIR /ws
# The declarations first, so that a code change does not redo the installs.
COPY package.xml requirements.txt src/lhg_ros/
RUN apt-get update && (rosdep update --rosdistro jazzy || true) \
    && rosdep install --from-paths src --ignore-src -y --rosdistro jazzy \
         --skip-keys "rviz2 python3-pyaudio" \
    && apt-get install -y --no-install-recommends python3-venv python3-colcon-common-extensions \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv --system-site-packages /opt/lhg_venv && touch /opt/lhg_venv/COLCON_IGNORE \
    && /opt/lhg_venv/bin/pip install --no-cache-dir -r src/lhg_ros/requirements.txt

COPY . src/lhg_ros
RUN source /opt/ros/jazzy/setup.bash && source /opt/lhg_venv/bin/activate \
    && python -m colcon build --packages-select lhg_ros && rm -rf build log

# Built engines (a GPU image with TensorRT) and other caches live here.
ENV XDG_CACHE_HOME=/cache
VOLUME /cache
COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "run", "lhg_ros", "lhg-ros", "doctor"]
