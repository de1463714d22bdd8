"""Which model reads an image: the one choice behind Python, the command line and the
widget.

From a model source (None: the shipped models; a model file; a fitted classifier), the
:class:`~napari_hamiltonian.imaging.reading.Reading` and the images' point-spread function,
:func:`choose_model` gives the loaded classifier with its file's SHA-256 (what a results
folder records) and a label for people. Loaded files are cached per process (by path and
content hash); each call returns an independent copy.
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..imaging.reading import Reading
from ..shipped import nearest


@dataclass(frozen=True)
class ChosenModel:
    """A loaded model and where it came from.

    Attributes
    ----------
    clf : HamiltonianClassifier
        The classifier (an independent copy: changing it changes no other caller's).
    sha256 : str or None
        SHA-256 of its file (None for a classifier given as an object).
    label : str
        What it is, in words ("shipped model for 2 px, grey", a file name).
    notes : tuple of str
        What the choice substituted, in words (a shipped resolution nearest to the one
        asked for).
    """

    clf: object
    sha256: str | None
    label: str
    notes: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple:
        """What identifies the model, for caches of its results."""
        return (self.label, self.sha256) if self.sha256 else ("object", id(self.clf))

    def warn(self, stacklevel: int = 2) -> None:
        """Each note as a UserWarning (the Python front end; the CLI prints them)."""
        for note in self.notes:
            warnings.warn(note, UserWarning, stacklevel=stacklevel + 1)


def choose_model(source=None, reading: Reading | None = None,
                 psf_sigma: float | None = None) -> ChosenModel:
    """The model that reads images of point-spread function ``psf_sigma`` read by
    ``reading``.

    Parameters
    ----------
    source : None, path-like or HamiltonianClassifier
        None: the shipped model for ``psf_sigma`` (the grey one when the reading has the
        phase levels and ``psf_sigma`` > 0, :meth:`Reading.input_kind`); a
        ``.safetensors`` file written by ``train``; or a fitted classifier.
    reading : Reading, optional
        How the frames are read (default: binary frames).
    psf_sigma : float, optional
        Gaussian sigma (px) of the images' point-spread function; only with the shipped
        models (it picks one).

    Raises
    ------
    ValueError
        For a model and ``psf_sigma`` at once, or a file that is not there.
    """
    reading = reading or Reading()
    if source is None:
        kind = reading.input_kind(psf_sigma)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from .pretrained import load_pretrained
            clf = load_pretrained(psf_sigma, kind)
        resolution = nearest(psf_sigma, kind)
        sigma = resolution.psf_sigma
        label = ("shipped lattice-scale model" if sigma == 0 else
                 f"shipped model for {sigma:g} px" + (", grey" if kind == "grey" else ""))
        return ChosenModel(clf, resolution.model(kind)[1], label,
                           tuple(str(w.message) for w in caught))
    if psf_sigma is not None:
        raise ValueError("give a model or psf_sigma, not both: psf_sigma (--psf-sigma) "
                         "picks a shipped model")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"model file {path}: no such file; give a .safetensors file "
                             "written by `napari-hamiltonian train`")
        from .modelfile import file_sha256
        digest = file_sha256(path)
        return ChosenModel(copy.deepcopy(_load_file(str(path.resolve()), digest)), digest,
                           path.name)
    return ChosenModel(source, None, "your classifier")


@functools.lru_cache(maxsize=8)
def _load_file(path: str, digest: str):
    """A model file, loaded once per (path, content)."""
    from .estimator import HamiltonianClassifier
    return HamiltonianClassifier.load(path)
