"""Packaging: the core imports without napari/Qt, and npe2 finds the manifest."""

import subprocess
import sys


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
        "import numpy as np\n"
        "import napari_hamiltonian as nh\n"
        "from napari_hamiltonian import batch, cli, report, samples\n"
        "x = nh.simulate.percolation(1, 16)\n"
        "fig = report.bar_chart({'C-2D': (0.5, 0.25), 'P*': (0.5, 0.5)})\n"
        "assert cli.build_parser() is not None\n"
    )
    run_python(code)


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
