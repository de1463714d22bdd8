"""napari-hamiltonian: which Hamiltonian drew these domains?

Classify black/white domain images of quantum materials (metal/insulator, up/down) by
the statistical-mechanics model that most likely produced them, following Basak et al.,
"Deep Learning Hamiltonians from Disordered Image Data in Quantum Materials" (2022).
"""

from . import simulate
from .simulate.dataset import CLASSES
from .symmetry import symmetry_reduce

__version__ = "0.1.0"

__all__ = ["CLASSES", "__version__", "simulate", "symmetry_reduce"]
