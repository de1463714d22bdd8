"""Beyond the class: a family's parameters (temperature, disorder, occupation) read from
domain images, with intervals.

``families`` (which Hamiltonians, which parameters, over which ranges, and their
training images), ``network`` (the regression network and its training loop),
``regressor`` (the scikit-learn :class:`~napari_hamiltonian.HamiltonianRegressor`),
``baselines`` (the physics estimators it is measured against) and ``pretrained`` (the
shipped regressors).
"""
