"""Plain-text output for the human-facing command-line tools."""

import contextlib
import os
import sys
from collections.abc import Sequence


@contextlib.contextmanager
def quiet_stderr():
    """Silence C libraries (ALSA via PortAudio, absl) that print probe noise to fd 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, 'w') as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render rows as an aligned text table with a header rule.

    Cells are converted with ``str``; a cell with line breaks keeps only its first line so the
    table stays one row per line.
    """
    cells = [[str(c).splitlines()[0] if str(c) else '' for c in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f'row has {len(row)} cells, the table has {len(headers)} columns')
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values):
        return '  '.join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    rule = '  '.join('-' * w for w in widths)
    return '\n'.join([line(headers), rule, *(line(row) for row in cells)])
