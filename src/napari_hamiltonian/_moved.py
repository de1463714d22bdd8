"""Deprecated module paths of the flat layout (before 0.2), kept as warning aliases.

``import napari_hamiltonian.sliding`` (say) still works and returns
:mod:`napari_hamiltonian.inference.sliding`, with a DeprecationWarning naming the new
path. The public API is :mod:`napari_hamiltonian` itself; these aliases are for scripts
that imported modules directly.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: Old module (relative to the package) -> its new path, or the paths of the modules it
#: was split into (the alias then finds each name in the first that has it).
MOVED = {
    "_binary": "imaging.binary", "optics": "imaging.optics",
    "switching": "imaging.switching", "_files": "output.files",
    "labelfile": "output.labelfile",
    "report": ("output.figures", "output.messages", "output.summary",
               "training.evaluation", "training.card"),
    "symmetry": "classifier.symmetry", "correlations": "classifier.correlations",
    "cnn": "classifier.cnn", "_fastconv": "classifier._fastconv",
    "confidence": "classifier.confidence", "rejection": "classifier.rejection",
    "estimator": "classifier.estimator", "modelfile": "classifier.modelfile",
    "pretrained": "classifier.pretrained", "wholeimage": "inference.wholeimage",
    "sliding": "inference.sliding", "stacks": "inference.stacks",
    "batch": ("inference.batch", "output.folder", "output.report", "imaging.files"),
}
_PACKAGE = __name__.rpartition(".")[0]


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old module names and loads them as the new modules, with a warning."""

    def find_spec(self, name, path=None, target=None):
        package, _, leaf = name.rpartition(".")
        if package != _PACKAGE or leaf not in MOVED:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        moved = MOVED[spec.name.rpartition(".")[2]]
        paths = [f"{_PACKAGE}.{m}" for m in ((moved,) if isinstance(moved, str) else moved)]
        warnings.warn(f"{spec.name} moved to {' and '.join(paths)}; import the public "
                      f"names from {_PACKAGE} or the module from its new path",
                      DeprecationWarning, stacklevel=2)
        if len(paths) == 1:
            return importlib.import_module(paths[0])
        alias = types.ModuleType(spec.name, f"Deprecated: split into {', '.join(paths)}.")

        def __getattr__(name: str):
            for path in paths:
                module = importlib.import_module(path)
                if hasattr(module, name):
                    return getattr(module, name)
            raise AttributeError(f"module {spec.name!r} has no attribute {name!r}")

        alias.__getattr__ = __getattr__
        return alias

    def exec_module(self, module):
        """The module is the new one, already executed."""


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
