"""Build and install lhg_ros with colcon (ament_python) or pip.

The version and description come from package.xml so that the two never disagree.
"""

import re
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE_NAME = 'lhg_ros'
HERE = Path(__file__).resolve().parent
PACKAGE_XML = (HERE / 'package.xml').read_text(encoding='utf-8')


def _package_xml_field(tag):
    match = re.search(rf'<{tag}>\s*(.*?)\s*</{tag}>', PACKAGE_XML, re.DOTALL)
    if match is None:
        raise RuntimeError(f'package.xml has no <{tag}>')
    return ' '.join(match.group(1).split())


def _requirements(path):
    lines = (HERE / path).read_text(encoding='utf-8').splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


def _share_files(folder, patterns):
    """(install dir, files) for one data folder; nothing when the folder holds no such file."""
    files = sorted({f for pattern in patterns for f in glob(f'{folder}/{pattern}')})
    return [(f'share/{PACKAGE_NAME}/{folder}', files)] if files else []


# rclpy and the message packages as PyPI wheels, for machines without a ROS 2 distribution.
# Opt-in: on a distribution install they come from apt, and these wheels must not shadow them.
ROS_WHEELS = [
    'ros-rclpy',
    # rclpy cannot load without an RMW implementation, and the wheel does not pull one in.
    'ros-rmw-fastrtps-cpp',
    'ros-std-msgs',
    'ros-sensor-msgs',
    'ros-geometry-msgs',
    'ros-trajectory-msgs',
    'ros-visualization-msgs',
    'ros-diagnostic-msgs',
    'ros-lifecycle-msgs',
    'ros-builtin-interfaces',
    'ros-rcl-interfaces',
]
# The runtime (the nodes, torch-free), the offline tools, training and export.
RUNTIME = _requirements('requirements.txt')
TOOLS = _requirements('requirements-tools.txt')
TRAIN = _requirements('requirements-train.txt')
# PyAudio builds from source on Linux and needs Debian's portaudio19-dev.
MICROPHONE = ['pyaudio>=0.2.13']
# Reference implementations the benchmarks compare against.
BENCH = ['python_speech_features>=0.6', 'librosa>=0.10']
DEV = [
    'pytest>=7',
    'pytest-timeout>=2',
    'hypothesis>=6',
    'ruff>=0.6',
    # To build this package the ROS way (colcon, ament_python) in the tests.
    'colcon-common-extensions>=0.3',
    'ros-ament-package',
    # Marker evaluation in scripts/check_platform_wheels.py.
    'packaging>=23',
    # Foxglove's own MCAP reader and ROS 2 decoder: the demo's bag must open in Foxglove.
    'mcap>=1.1',
    'mcap-ros2-support>=0.5',
]

setup(
    name=PACKAGE_NAME,
    version=_package_xml_field('version'),
    description=_package_xml_field('description'),
    license=_package_xml_field('license'),
    maintainer='lhg_ros maintainers',
    maintainer_email='lhg-ros@users.noreply.github.com',
    python_requires='>=3.10',
    packages=find_packages(include=[PACKAGE_NAME, f'{PACKAGE_NAME}.*']),
    package_data={f'{PACKAGE_NAME}.features': ['face_reference.npz', 'silero/silero_vad.onnx',
                                                'silero/LICENSE'],
                  # audio_common 4.0.10's message definitions, for reading bags without it.
                  f'{PACKAGE_NAME}.data': ['msg/audio_common_msgs/*'],
                  # The shipped starter model: weights, sidecar, ONNX step model, card, recipe.
                  f'{PACKAGE_NAME}.models': ['starter/*.safetensors', 'starter/*.json',
                                             'starter/*.onnx', 'starter/*.md',
                                             'starter/*.yaml']},
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE_NAME}']),
        (f'share/{PACKAGE_NAME}', ['package.xml', 'requirements.txt', 'requirements-tools.txt',
                                   'requirements-train.txt']),
        *_share_files('launch', ['*.launch.py']),
        *_share_files('config', ['*.yaml']),
        *_share_files('urdf', ['*.urdf', '*.xacro']),
        *_share_files('rviz', ['*.rviz']),
    ],
    install_requires=['numpy', 'PyYAML'],
    extras_require={
        'ros': ROS_WHEELS,
        'runtime': RUNTIME,
        'tools': RUNTIME + TOOLS,
        'train': RUNTIME + TOOLS + TRAIN,
        'ml': RUNTIME + TOOLS + TRAIN,  # everything but ROS: what the tests and the demo use
        'microphone': MICROPHONE,
        'dev': DEV,
        'bench': BENCH,
        'all': ROS_WHEELS + RUNTIME + TOOLS + TRAIN + MICROPHONE + DEV,
    },
    zip_safe=True,
    entry_points={
        'console_scripts': [
            'lhg-ros = lhg_ros.cli:main',
            'audio_features_node = lhg_ros.nodes.audio_features_node:main',
            'head_pose_node = lhg_ros.nodes.head_pose_node:main',
            'listener_node = lhg_ros.nodes.listener_node:main',
            'avatar_node = lhg_ros.nodes.avatar_node:main',
        ],
    },
)
