"""Cluster geometry: the fractal measures the CNN's answer is checked against.

The second opinion (Phillabaum, Carlson and Dahmen, Nat. Commun. 3, 915 (2012); Liu et
al., PRL 116, 036401 (2016)): :mod:`.measures` measures the clusters of a binary image
and their critical exponents (conventions there), :mod:`.references` keeps the measures
of each class from our simulations at each shipped resolution, and :mod:`.verdict` says
which classes a frame's measures are consistent with, beside the CNN.
"""

from .measures import (
                       EXACT_ISING_2D,
                       EXACT_PERCOLATION_2D,
                       MEASURE_NAMES,
                       MEASURES,
                       MIN_SIZE,
                       Geometry,
                       clusters,
                       measure,
                       power_law_mle,
)
from .references import (
                       OUTSIDE_FAMILIES,
                       REFERENCE_SIGMAS,
                       References,
                       build_references,
                       default_min_size,
                       outside_references,
                       reference_file,
                       reference_images,
                       references_for,
)
from .verdict import Verdict, agreement_message, cnn_agrees, table_row, verdict

__all__ = ["EXACT_ISING_2D", "EXACT_PERCOLATION_2D", "MEASURES", "MEASURE_NAMES",
           "MIN_SIZE", "OUTSIDE_FAMILIES", "REFERENCE_SIGMAS", "Geometry", "References",
           "Verdict", "agreement_message", "build_references", "clusters", "cnn_agrees",
           "default_min_size", "measure", "outside_references", "power_law_mle",
           "reference_file", "reference_images", "references_for", "table_row",
           "verdict"]
