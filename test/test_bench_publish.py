"""``make bench`` writes docs/benchmarks.md itself: each benchmark replaces its own section with
what it printed, says when and on what it ran, and leaves the other sections as they were."""

import subprocess
import sys

from conftest import REPO, load_module_at

publish = load_module_at(REPO / 'bench' / 'publish.py')
BENCHMARKS_HEAD, write_section = publish.BENCHMARKS_HEAD, publish.write_section


def test_a_benchmark_replaces_its_own_section_only(tmp_path):
    """A re-run benchmark's table replaces its old one; another benchmark's table stays; the
    section says the date, the CPU and the arguments."""
    page = tmp_path / 'benchmarks.md'
    write_section('bench_a', 'table A, first run', page)
    write_section('bench_b', 'table B', page, arguments=['--seconds', '60'])
    write_section('bench_a', 'table A, second run', page)
    text = page.read_text()
    assert text.startswith(BENCHMARKS_HEAD.splitlines()[0])
    assert 'table A, second run' in text and 'first run' not in text
    assert 'table B' in text and 'arguments: --seconds 60' in text
    assert text.count('## bench_a') == 1 and text.index('## bench_a') < text.index('## bench_b')
    assert 'cores' in text


def test_every_benchmark_publishes_its_table_and_has_a_section():
    """Each bench/bench_*.py hands its main to run_and_publish under its own name, and the
    docs have a heading for each, so that links into the page hold."""
    page = (REPO / 'docs' / 'benchmarks.md').read_text()
    for script in sorted((REPO / 'bench').glob('bench_*.py')):
        assert f"run_and_publish('{script.stem}', main)" in script.read_text(), script.name
        assert f'\n## {script.stem}\n' in page, script.stem


def test_no_docs_only_prints(tmp_path):
    """--no-docs runs the benchmark and leaves docs/benchmarks.md alone."""
    script = tmp_path / 'bench_tiny.py'
    script.write_text(
        'import sys\n'
        f'sys.path.insert(0, {str(REPO / "bench")!r})\n'
        'import publish\n'
        f'publish.BENCHMARKS_MD = __import__("pathlib").Path({str(tmp_path / "out.md")!r})\n'
        "publish.run_and_publish('bench_tiny', lambda: print('a table'))\n")
    printed = subprocess.run([sys.executable, str(script), '--no-docs'], capture_output=True,
                             text=True, check=True).stdout
    assert 'a table' in printed and not (tmp_path / 'out.md').exists()
    subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert 'a table' in (tmp_path / 'out.md').read_text()
