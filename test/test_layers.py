"""The package's layer order (docs/architecture.md) holds: no module imports from a layer
above its own, and no two modules import each other, directly or round a loop.

Every import counts, also those inside functions: a lazy import that climbs is a climb all the
same (it only fails later, on the robot)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'lhg_ros'
ARCHITECTURE = ROOT / 'docs' / 'architecture.md'


def layer_order(text: str) -> list[list[str]]:
    """The layers of the ```layers block, bottom first: each a list of module or package names
    relative to lhg_ros ('lhg_ros' itself: the package's __init__)."""
    block = re.search(r'```layers\n(.*?)```', text, re.S)
    if not block:
        raise AssertionError(f'{ARCHITECTURE} has no ```layers block')
    layers = []
    for line in block.group(1).splitlines():
        line = line.split(':', 1)[-1] if ':' in line else line
        names = [n.strip() for n in line.split(',') if n.strip()]
        if names:
            layers.append(names)
    return layers


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in package.rglob('*.py'):
        parts = list(path.relative_to(package.parent).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        out['.'.join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The lhg_ros modules ``name`` imports, anywhere in its file."""
    def resolve(target: str) -> str:
        while target and target not in known:
            target = target.rpartition('.')[0]
        return target

    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {resolve(a.name) for a in node.names if a.name.split('.')[0] == 'lhg_ros'}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            if base.split('.')[0] == 'lhg_ros':
                for alias in node.names:
                    full = f'{base}.{alias.name}'
                    out.add(full if full in known else resolve(base))
    out.discard(name)
    out.discard('')
    return out


def layer_of(name: str, layers: list[list[str]]) -> int:
    """The index of the layer that holds module ``name`` (the longest matching entry)."""
    relative = '' if name == 'lhg_ros' else name.removeprefix('lhg_ros.')
    best, index = -1, None
    for i, layer in enumerate(layers):
        for entry in layer:
            entry = '' if entry == 'lhg_ros' else entry
            inside = relative == entry or (entry and relative.startswith(entry + '.'))
            if inside and len(entry) > best:
                best, index = len(entry), i
    if index is None:
        raise AssertionError(f'{name} is in no layer of {ARCHITECTURE}: add it to the order')
    return index


def violations(package: Path, layers: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """(imports that climb the order, import cycles) of the package at ``package``."""
    known = modules(package)
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    climbs = []
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            if target == 'lhg_ros':  # the package's own __init__ (its version): the bottom
                continue
            if layer_of(target, layers) > layer_of(name, layers):
                climbs.append(f'{name} imports {target}, a layer above it')
    return climbs, cycles(graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import loops of ``graph`` (Tarjan's strongly connected components of 2 or more)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target == 'lhg_ros' or target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_climbs_the_layer_order_or_loops():
    """A module that imports from a layer above it (a node's helper in the features, the
    trainer in the evaluation) or two modules that need each other make the house hard to
    change: this names each one."""
    layers = layer_order(ARCHITECTURE.read_text())
    climbs, loops = violations(PACKAGE, layers)
    assert not climbs, '\n'.join(climbs)
    assert not loops, '\n'.join(' <-> '.join(loop) for loop in loops)


def test_the_check_fails_on_a_climb_and_a_loop(tmp_path):
    """The check above can fail: a features module that imports a node, and two modules that
    import each other, are both caught."""
    package = tmp_path / 'lhg_ros'
    for relative, text in {
        '__init__.py': '',
        'features/__init__.py': '',
        'features/audio.py': 'def f():\n    from lhg_ros.nodes.listener_node import main\n',
        'nodes/__init__.py': '',
        'nodes/listener_node.py': 'from lhg_ros.motion import a\n',
        'motion/__init__.py': '',
        'motion/a.py': 'import lhg_ros.motion.b\n',
        'motion/b.py': 'from lhg_ros.motion import a\n',
    }.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text)
    climbs, loops = violations(package, [['lhg_ros'], ['features'], ['motion'], ['nodes']])
    assert climbs == ['lhg_ros.features.audio imports lhg_ros.nodes.listener_node, a layer '
                      'above it']
    assert loops == [['lhg_ros.motion.a', 'lhg_ros.motion.b']]


def test_every_module_has_a_layer():
    """A new module outside the written order would escape the check."""
    layers = layer_order(ARCHITECTURE.read_text())
    for name in modules():
        layer_of(name, layers)


if __name__ == '__main__':  # (the check on its own: python test/test_layers.py)
    raise SystemExit(pytest.main([__file__, '-q']))
