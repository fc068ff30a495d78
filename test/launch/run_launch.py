"""Run a launch file with the real ``launch`` library, as ``ros2 launch FILE name:=value ...``
would (that CLI is not part of the wheels); exits with the launch service's code."""

import sys

from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource


def main(path: str, *arguments: str) -> int:
    pairs = [argument.split(':=', 1) for argument in arguments]
    service = LaunchService()
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(path), launch_arguments=pairs)]))
    return service.run()


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
