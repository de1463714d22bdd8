"""Imaging: from the files and frames a user has to the model's input.

``files`` reads images and stacks, ``optics`` is the microscope (point-spread function,
noise, rendering, the PSF estimate), ``binary`` the value conventions and thresholds,
``switching`` the stack-wide switching binarisation, and ``reading`` the
:class:`~napari_hamiltonian.Reading` every front end builds.
"""
