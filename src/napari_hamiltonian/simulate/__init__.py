"""Numba generators of the seven candidate models (Table I of Basak et al.)."""

from .dataset import CLASSES, load_dataset, make_dataset, save_dataset
from .ising import ising2d, ising3d
from .percolation import percolation
from .rfim import rfim
from .table import CLASS_TABLE

__all__ = [
    "CLASSES",
    "CLASS_TABLE",
    "ising2d",
    "ising3d",
    "load_dataset",
    "make_dataset",
    "percolation",
    "rfim",
    "save_dataset",
]
