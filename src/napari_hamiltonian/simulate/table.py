"""Table I of Basak et al.: the generator and parameter range of each class."""

from __future__ import annotations

#: Generator, parameter name and parameter range of each class (Table I).
CLASS_TABLE: dict[str, tuple[str, str, object]] = {
    "C-2D": ("ising2d", "temperature", (2.25, 2.64)),
    "C-3D": ("ising3d", "temperature", (4.45, 4.65)),
    "RF-2D": ("rfim2d", "disorder", (1.00, 1.19)),
    "RF-3D": ("rfim3d", "disorder", (2.25, 2.29)),
    "P-2D": ("percolation", "p", (0.57, 0.61)),
    "P-3D": ("percolation", "p", (0.29, 0.33)),
    "P*": ("percolation", "p", [(0.02, 0.2), (0.48, 0.52), (0.8, 0.98)]),
}

#: Label of the images none of the seven models drew (outlier exposure; not a class).
NONE = "none"
