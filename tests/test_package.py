"""Packaging: the core imports without napari/Qt, and npe2 finds the manifest."""

import subprocess
import sys


def test_core_imports_without_napari_or_qt():
    code = (
        "import sys, napari_hamiltonian as nh; nh.simulate.percolation(1, 8);"
        "bad = [m for m in sys.modules if m.split('.')[0] in"
        " ('napari', 'PyQt6', 'PyQt5', 'PySide6', 'qtpy', 'magicgui', 'vispy')];"
        "print(bad); sys.exit(bool(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_npe2_discovers_the_installed_manifest():
    from npe2 import PluginManager

    pm = PluginManager()
    pm.discover()
    manifest = pm.get_manifest("napari-hamiltonian")
    assert manifest.display_name == "Hamiltonian classifier"
