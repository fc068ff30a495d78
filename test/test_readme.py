"""The documented command table and "Your own data" commands match the tools: every
``lhg-ros`` command is in the table of docs/cli.md (and nothing else is), and the commands of
docs/own-data.md run as written, with only the sizes made small (fewer sessions, one epoch, a
tiny preset). (The README links to both pages.)"""

import re
import shlex
import subprocess

from conftest import BIN, REPO

CLI_PAGE = (REPO / 'docs' / 'cli.md').read_text()
OWN_DATA_PAGE = (REPO / 'docs' / 'own-data.md').read_text()


def cli_commands() -> set[str]:
    """Every command of ``lhg-ros``: its subcommands, and ``data``'s as ``data NAME``."""
    from lhg_ros.cli import build_parser

    def names(parser):
        choices = next(a for a in parser._actions if a.__class__.__name__ ==
                       '_SubParsersAction').choices
        return choices

    top = names(build_parser())
    commands = {n for n in top if n != 'data'}
    return commands | {f'data {n}' for n in names(top['data'])}


def table_commands() -> set[str]:
    """The commands named in the table of commands of docs/cli.md."""
    table = CLI_PAGE[CLI_PAGE.index('| command | what it does'):]
    table = table[:table.index('\n\n')]
    cells = [row.split('|')[1] for row in table.splitlines()[2:]]
    return {name for cell in cells for name in re.findall(r'`([a-z][a-z -]*)`', cell)}


def test_the_command_table_lists_every_command_and_only_those():
    assert table_commands() == cli_commands()


def bash_block_after(marker: str) -> list[list[str]]:
    """The commands of the ```bash block holding ``marker``: continuation lines joined,
    comments left out."""
    start = OWN_DATA_PAGE.index(marker)
    block = OWN_DATA_PAGE[OWN_DATA_PAGE.rindex('```bash', 0, start) + len('```bash'):]
    block = block[:block.index('```')].replace('\\\n', ' ')
    return [shlex.split(line, comments=True) for line in block.splitlines()
            if shlex.split(line, comments=True)]


def run_small(command: list[str], where, sizes: dict[str, str]) -> subprocess.CompletedProcess:
    """``command`` as docs/own-data.md writes it, in ``where``, with ``sizes`` (option -> value)
    replaced and a training command held to one epoch of a tiny model."""
    assert command[0] == 'lhg-ros', command
    args = list(command[1:])
    for option, value in sizes.items():
        if option in args:
            args[args.index(option) + 1] = value
    if args[0] in ('train', 'finetune') and '--resume' not in args:
        args += ['--epochs', '1'] + (['--preset', 'tiny'] if args[0] == 'train' else [])
    result = subprocess.run([str(BIN / 'lhg-ros'), *args], cwd=where, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, (f'{shlex.join(command)}:\n{result.stdout[-3000:]}'
                                    f'{result.stderr[-3000:]}')
    assert 'Traceback' not in result.stderr
    return result


def test_the_data_section_runs_as_written(tmp_path):
    commands = bash_block_after('lhg-ros data synth data/synthetic')
    assert [c[1] for c in commands] == ['data', 'data', 'data', 'train', 'train', 'finetune',
                                        'eval']
    said = [run_small(c, tmp_path, {'--sessions': '2', '--workers': '1'}).stdout
            for c in commands]
    assert (tmp_path / 'runs' / 'base' / 'last.safetensors').is_file()
    assert (tmp_path / 'runs' / 'eval' / 'report.json').is_file()
    # fine-tuning ends with the comparison on the listener's held-out session
    assert 'statistics distance to listener_b: before ' in said[5]
    assert (tmp_path / 'runs' / 'listener_b' / 'comparison.json').is_file()


def test_the_corpus_commands_run_as_written(tmp_path):
    """The starter corpus, and fine-tuning the shipped model to one of its held-out listeners
    (the small corpus has other names)."""
    from lhg_ros.data.manifest import load_manifest

    make, finetune = bash_block_after('lhg-ros data corpus data/corpus')
    run_small([*make, '--min-minutes', '0.4', '--max-minutes', '0.5'], tmp_path,
              {'--sessions': '4', '--held-out': '2'})
    dataset = load_manifest(tmp_path / 'data' / 'corpus' / 'manifest.yaml')
    listener = dataset.held_out_listeners[0]
    said = run_small(finetune, tmp_path, {'--listener': listener}).stdout
    assert f'statistics distance to {listener}: before ' in said
