"""Inference: every window of an image or a stack classified exactly and fast.

``wholeimage`` runs the CNN over a whole transformed image, ``sliding`` is the one
generator behind every front end (:func:`~napari_hamiltonian.classify_image`),
``stacks`` the Dask graph over (T, Y, X) stacks, ``batch`` a planned, resumable job from
a file to its results folder.
"""
