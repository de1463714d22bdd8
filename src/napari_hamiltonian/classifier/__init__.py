"""The classifier: what reads a 100 x 100 window and says which Hamiltonian drew it.

``symmetry`` (Z2 x D4 reduction), ``correlations`` (pattern statistics), ``cnn`` (the
network and its training loop), ``confidence`` (the paper's k-sigma rule),
``rejection`` ("none of these" and "cannot tell at this resolution"), ``estimator``
(the scikit-learn :class:`~napari_hamiltonian.HamiltonianClassifier`) with its
``confident`` methods, ``modelfile`` (the safetensors file), ``pretrained`` (the shipped
models) and ``choice`` (which model reads an image).
"""
