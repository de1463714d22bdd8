"""The napari side: sample data, the classification widget and the training widget.

Everything that imports napari or Qt lives here; the rest of the package does not.
"""
