"""Packaging: the core imports without napari/Qt, and npe2 finds the manifest."""

import subprocess
import sys


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
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_npe2_discovers_the_installed_manifest():
    from npe2 import PluginManager

    pm = PluginManager()
    pm.discover()
    manifest = pm.get_manifest("napari-hamiltonian")
    assert manifest.display_name == "Hamiltonian classifier"
