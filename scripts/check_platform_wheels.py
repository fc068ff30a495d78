#!/usr/bin/env python3
"""Can the runtime be installed on each target platform from wheels alone?

For every target (linux aarch64 / CPython 3.10 as on JetPack 6, linux x86_64 / CPython 3.10 and
3.12) the requirement files' environment markers are evaluated *for that target* (pip evaluates
markers against the machine it runs on, even with --platform), and pip resolves the result with
``--dry-run --only-binary=:all: --platform ... --python-version ...``: no download of whole wheels,
no build. Exit 1 and say which when a dependency has no wheel for a target.

    scripts/check_platform_wheels.py                       # requirements.txt, every target
    scripts/check_platform_wheels.py --target aarch64-cp310 -r requirements.txt
"""

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    name: str
    machine: str
    python: str  # major.minor
    glibc: tuple[int, int]  # newest glibc of the platform: wheels up to manylinux_<that>
    note: str

    def platforms(self) -> list[str]:
        """Every manylinux tag the platform accepts (pip does not expand a manylinux_2_x tag
        to the older ones by itself)."""
        major, newest = self.glibc
        tags = [f'manylinux_{major}_{minor}_{self.machine}' for minor in range(newest, 16, -1)]
        tags.append(f'manylinux2014_{self.machine}')
        if self.machine == 'x86_64':
            tags += ['manylinux2010_x86_64', 'manylinux1_x86_64']
        return tags

    def environment(self) -> dict:
        env = default_environment()
        env.update(platform_machine=self.machine, python_version=self.python,
                   python_full_version=f'{self.python}.0', sys_platform='linux',
                   platform_system='Linux', os_name='posix', implementation_name='cpython',
                   platform_python_implementation='CPython')
        return env


TARGETS = {t.name: t for t in (
    Target('aarch64-cp310', 'aarch64', '3.10', (2, 35), 'Jetson, JetPack 6 (Ubuntu 22.04)'),
    Target('x86_64-cp310', 'x86_64', '3.10', (2, 35), 'Ubuntu 22.04, ROS 2 Humble'),
    Target('x86_64-cp312', 'x86_64', '3.12', (2, 39), 'Ubuntu 24.04, ROS 2 Jazzy'),
)}


def read_requirements(paths: list[Path]) -> list[str]:
    lines = []
    for path in paths:
        for line in path.read_text(encoding='utf-8').splitlines():
            line = line.split(' #')[0].strip()
            if line and not line.startswith('#'):
                lines.append(line)
    return lines


def for_target(requirements: list[str], target: Target) -> list[str]:
    """The requirements that apply on ``target``, markers removed."""
    env, kept = target.environment(), []
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(env):
            requirement.marker = None
            kept.append(str(requirement))
    return kept


def resolve(requirements: list[str], target: Target) -> tuple[dict, str]:
    """({name: (version, wheel file)}, pip's error text or '')."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / 'report.json'
        command = [sys.executable, '-m', 'pip', 'install', '--dry-run', '--ignore-installed',
                   '--quiet', '--no-warn-conflicts', '--only-binary=:all:',
                   '--python-version', target.python, '--implementation', 'cp',
                   '--report', str(report)]
        for platform in target.platforms():
            command += ['--platform', platform]
        result = subprocess.run(command + requirements, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            errors = [line for line in (result.stderr + result.stdout).splitlines()
                      if line.startswith('ERROR')]
            return {}, '; '.join(errors) or result.stderr.strip()[-500:]
        installs = json.loads(report.read_text())['install']
    return {i['metadata']['name'].lower().replace('_', '-'):
            (i['metadata']['version'], i['download_info']['url'].rsplit('/', 1)[-1])
            for i in installs}, ''


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--target', action='append', choices=sorted(TARGETS),
                        help='platform to check (repeatable; default: all)')
    parser.add_argument('-r', '--requirements', action='append', type=Path,
                        help='requirement file (repeatable; default: requirements.txt)')
    parser.add_argument('--show', default='mediapipe,numpy,onnxruntime,kaldi-native-fbank',
                        help='packages whose resolved versions the table shows')
    parser.add_argument('--forbid', default='torch',
                        help='packages that must not be pulled in (comma separated)')
    args = parser.parse_args(argv)
    files = args.requirements or [ROOT / 'requirements.txt']
    requirements = read_requirements(files)
    shown = [name for name in args.show.split(',') if name]
    forbidden = {name for name in args.forbid.split(',') if name}
    failed = False
    rows = []
    for name in args.target or list(TARGETS):
        target = TARGETS[name]
        resolved, error = resolve(for_target(requirements, target), target)
        pulled = sorted(forbidden & set(resolved))
        if error or pulled:
            failed = True
            problem = error or f"pulls in {', '.join(pulled)}"
            rows.append((name, target.note, 'FAIL', problem))
            continue
        versions = ', '.join(f'{p} {resolved[p][0]}' for p in shown if p in resolved)
        rows.append((name, target.note, 'ok', f'{len(resolved)} wheels; {versions}'))
    header = ('target', 'platform', 'status', 'result')
    width = [max(len(row[i]) for row in (header, *rows)) for i in range(3)]
    for row in (header, *rows):
        print(f'{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]:<{width[2]}}  {row[3]}')
    names = ', '.join(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f) for f in files)
    print(f'(requirements: {names}; binary wheels only)')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
