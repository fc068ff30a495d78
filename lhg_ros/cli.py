"""The ``lhg-ros`` command: one entry point for the tools that ship with the package."""

import argparse
import sys

from lhg_ros import __version__


def _run_doctor(args) -> int:
    from lhg_ros import doctor  # heavy checks import only when asked for

    return doctor.main(args)


def _add_doctor(subparsers) -> None:
    parser = subparsers.add_parser(
        'doctor', help='check what works on this machine and what to install',
        description='Check rclpy, DDS, the ML stack, GPU, audio and camera devices, and print a '
                    'table of what works and what to install. Exits 1 when something lhg_ros '
                    'cannot run without is missing.')
    parser.add_argument('--json', action='store_true', help='print the checks as JSON')
    parser.add_argument('--skip-dds', action='store_true',
                        help='skip the two-process DDS round trip')
    parser.add_argument('--dds-timeout', type=float, default=15.0, metavar='SECONDS',
                        help='how long to wait for DDS discovery (default 15)')
    parser.set_defaults(run=_run_doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='lhg-ros',
        description='Listening head motion for ROS 2 robots: tools to check, run and evaluate.')
    parser.add_argument('--version', action='version', version=f'lhg_ros {__version__}')
    subparsers = parser.add_subparsers(title='commands', metavar='COMMAND')
    _add_doctor(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, 'run'):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == '__main__':
    sys.exit(main())
