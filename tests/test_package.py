"""Packaging: the core imports without napari/Qt, no import cycles, npe2 finds the
manifest, the old flat module paths still work with a warning."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import napari_hamiltonian

PACKAGE = Path(napari_hamiltonian.__file__).parent


def run_python(code: str) -> None:
    """Run ``code`` in a fresh interpreter; fail with its output if it fails."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_core_imports_without_napari_or_qt():
    """Everything outside plugin/ works with napari and Qt made unimportable."""
    code = (
        "import sys\n"
        "BAD = ('napari', 'PyQt6', 'PyQt5', 'PySide6', 'qtpy', 'magicgui', 'vispy', 'npe2')\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BAD:\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib, pkgutil\n"
        "import napari_hamiltonian as nh\n"
        "for m in pkgutil.walk_packages(nh.__path__, 'napari_hamiltonian.'):\n"
        "    if '.plugin' not in m.name:\n"
        "        importlib.import_module(m.name)\n"
        "from napari_hamiltonian import cli\n"
        "from napari_hamiltonian.output import figures\n"
        "x = nh.simulate.percolation(1, 16)\n"
        "fig = figures.bar_chart({'C-2D': (0.5, 0.25), 'P*': (0.5, 0.5)})\n"
        "assert cli.build_parser() is not None\n"
    )
    run_python(code)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The package's modules that the module at ``path`` imports, anywhere in its body
    (imports inside functions count: they are cycles of design, deferred)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[:len(base) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:  # "from . import x" imports the module x
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in modules and m != name}


def test_no_import_cycles_inside_the_package():
    """Every module's imports, followed through the package, never lead back to it."""
    graph = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join(trail + [start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_modules_stay_small():
    """One job per module: none is over 500 lines."""
    long = {module_name(p): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


@pytest.mark.parametrize("old, new", [("sliding", "inference.sliding"),
                                      ("optics", "imaging.optics"),
                                      ("estimator", "classifier.estimator")])
def test_old_module_paths_warn_and_give_the_new_module(old, new):
    run_python(
        "import warnings, importlib\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module('napari_hamiltonian.{old}')\n"
        f"assert old is importlib.import_module('napari_hamiltonian.{new}')\n"
        f"assert any('{new}' in str(w.message) and w.category is DeprecationWarning "
        "for w in caught), [str(w.message) for w in caught]\n")


def test_npe2_discovers_the_installed_manifest():
    from npe2 import PluginManager

    pm = PluginManager()
    pm.discover()
    manifest = pm.get_manifest("napari-hamiltonian")
    assert manifest.display_name == "Hamiltonian classifier"


def test_import_and_sample_data_do_not_load_the_heavy_libraries():
    """`import napari_hamiltonian` and napari's sample menu stay light (PEP 562)."""
    code = (
        "import sys\n"
        "import napari_hamiltonian as nh\n"
        "from napari_hamiltonian.plugin import _samples\n"
        "assert nh.CLASSES[0] == 'C-2D'\n"
        "for f in (_samples.rf2d_stack, _samples.rf2d_stack_gray, _samples.gallery):\n"
        "    f()\n"
        "heavy = [m for m in ('torch', 'sklearn', 'numba', 'dask', 'scipy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(nh.classify_image) and 'torch' in sys.modules\n"
        "assert set(nh.__all__) <= set(dir(nh))\n"
    )
    run_python(code)


def test_the_command_line_starts_without_the_heavy_libraries():
    """`napari-hamiltonian --help` (and the parser with the training defaults) loads no
    torch, scikit-learn, numba or dask."""
    run_python(
        "import sys\n"
        "from napari_hamiltonian.cli import build_parser\n"
        "args = build_parser().parse_args(['train', 'd.npz'])\n"
        "assert args.epochs == 4 and args.hidden_units == 128\n"
        "heavy = [m for m in ('torch', 'sklearn', 'numba', 'dask') if m in sys.modules]\n"
        "assert not heavy, heavy\n")


def test_process_wide_tuning_has_one_off_switch(monkeypatch):
    """With NAPARI_HAMILTONIAN_NO_TUNING set, background work leaves the collector's
    thresholds as the host set them."""
    import gc

    from napari_hamiltonian import tuning

    before = gc.get_threshold()
    monkeypatch.setenv(tuning.NO_TUNING, "1")
    assert not tuning.enabled()
    tuning.hold_full_collections()
    try:
        assert gc.get_threshold() == before
    finally:
        tuning.release_full_collections()
    assert gc.get_threshold() == before
    monkeypatch.setenv(tuning.NO_TUNING, "0")
    assert tuning.enabled()
    tuning.hold_full_collections()
    try:
        assert gc.get_threshold()[0] >= tuning.YOUNG_THRESHOLD
    finally:
        tuning.release_full_collections()
    assert gc.get_threshold() == before
