"""The benchmarks' tables into docs/benchmarks.md: what each printed, with when and on what."""

import os
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / 'docs' / 'benchmarks.md'
BENCHMARKS_HEAD = """# Benchmarks

Written by `make bench` (each `bench/bench_*.py` replaces its own section when it finishes;
do not edit by hand). Each section says when and on what it ran, then what the benchmark
printed: its tables compare against a reference measured in the same run, so read the
ratios more than the absolute times. Back to the [README](../README.md).
"""


def machine_line() -> str:
    """The date, the CPU model, its cores and how many of them this process may use."""
    import datetime
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return (f'{datetime.date.today().isoformat()}, {model}, {os.cpu_count()} cores '
            f'({len(os.sched_getaffinity(0))} used), Python {platform.python_version()}')


def write_section(name: str, text: str, path: Path | None = None,
                  arguments: list[str] | None = None) -> None:
    """Put ``text`` (what a benchmark printed) in ``path`` as the section ``## name``, in place
    of that section's previous text; the other sections stay."""
    import re

    path = path or BENCHMARKS_MD
    old = path.read_text() if path.is_file() else BENCHMARKS_HEAD
    how = f'; arguments: {" ".join(arguments)}' if arguments else ''
    body = f'## {name}\n\n_{machine_line()}{how}_\n\n```text\n{text.strip()}\n```\n'
    pattern = re.compile(rf'^## {re.escape(name)}\n.*?(?=^## |\Z)', re.S | re.M)
    new = pattern.sub(lambda _: body + '\n', old) if pattern.search(old) else (
        old.rstrip() + '\n\n' + body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip() + '\n')


def run_and_publish(name: str, main) -> None:
    """Run a benchmark's ``main`` with its standard output also kept, and write what it printed
    to docs/benchmarks.md (``--no-docs`` in the arguments, or a failure: only printed)."""
    import io
    import sys

    if '--no-docs' in sys.argv:
        sys.argv.remove('--no-docs')
        main()
        return

    class Tee(io.TextIOBase):
        def __init__(self, stream):
            self.stream, self.kept = stream, io.StringIO()

        def write(self, text):
            self.kept.write(text)
            return self.stream.write(text)

        def flush(self):
            self.stream.flush()

    tee = Tee(sys.stdout)
    sys.stdout = tee
    try:
        main()
    finally:
        sys.stdout = tee.stream
    write_section(name, tee.kept.getvalue(), arguments=sys.argv[1:])
