"""lhg_ros: listening head motion generation for ROS 2 robots and avatars."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version('lhg_ros')
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = '0+unknown'
