"""The estimator's training defaults, in a module that imports nothing heavy, so that the
command line and the training dock can show them without loading torch. The one owner:
:class:`~napari_hamiltonian.HamiltonianClassifier`'s signature and the training recipe
read them from here."""

#: Default of each training parameter of :class:`HamiltonianClassifier`.
TRAINING = {
    "hidden_units": 128,
    "epochs": 4,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "validation_fraction": 0.2,
    "symmetry_reduction": True,
    "augmentation": False,
    "storage": "float32",
}
