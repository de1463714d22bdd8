"""napari-hamiltonian: which Hamiltonian drew these domains?

Classify black/white domain images of quantum materials (metal/insulator, up/down) by
the statistical-mechanics model that most likely produced them, following Basak et al.,
"Deep Learning Hamiltonians from Disordered Image Data in Quantum Materials" (2022).
"""

from . import simulate
from .estimator import HamiltonianClassifier
from .pretrained import load_pretrained
from .simulate.dataset import CLASSES
from .sliding import classify_image, classify_stack
from .symmetry import symmetry_reduce

__version__ = "0.1.0"

__all__ = ["CLASSES", "HamiltonianClassifier", "__version__", "classify_image",
           "classify_stack", "load_pretrained", "simulate", "symmetry_reduce"]
