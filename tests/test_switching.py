"""Switching-frame binarisation of stacks against the true maps of a rendered sweep."""

import numpy as np
import pytest

from napari_hamiltonian import binarize_stack
from napari_hamiltonian.imaging.optics import Instrument
from napari_hamiltonian.samples import field_sweep_stack


@pytest.fixture(scope="module")
def sweep():
    frames, _ = field_sweep_stack(size=160, disorder=1.1,
                                  fractions=np.linspace(0.1, 0.9, 10), seed=3)
    assert np.all(frames[1:] >= frames[:-1])  # a field sweep's maps are nested
    return frames


@pytest.mark.parametrize("psf,snr", [(1.0, 3), (2.0, 5), (3.0, 10)])
def test_switching_maps_are_nested_and_beat_per_frame_otsu(sweep, psf, snr):
    grey = Instrument(psf, insulator=1.0, metal=3.0, noise=2.0 / snr).grey(
        sweep, np.random.default_rng(1))
    before = grey.copy()
    maps = binarize_stack(grey, "switching")
    np.testing.assert_array_equal(grey, before)  # the input is left alone
    assert maps.dtype == np.uint8 and maps.shape == sweep.shape
    assert np.all(maps[1:] >= maps[:-1])  # a pixel that switched stays switched
    otsu = binarize_stack(grey, "otsu")
    assert np.mean(maps == sweep) >= np.mean(otsu == sweep)


def test_a_falling_sweep_and_dark_metal_give_the_same_maps(sweep):
    grey = Instrument(1.5, noise=0.2).grey(sweep, np.random.default_rng(2))
    maps = binarize_stack(grey)
    np.testing.assert_array_equal(binarize_stack(grey[::-1])[::-1], maps)
    np.testing.assert_array_equal(binarize_stack(-grey, metal="dark"), maps)


def test_pixels_that_never_switch_keep_their_phase():
    stack = np.zeros((6, 40, 40), np.float32)
    stack[:, :10] = 1.0  # metal throughout
    stack[3:, 20:] = 1.0  # switches at frame 3
    maps = binarize_stack(stack + np.random.default_rng(0).normal(0, 0.05, stack.shape))
    assert np.all(maps[:, :10] == 1) and np.all(maps[:, 10:20] == 0)
    assert np.all(maps[:3, 20:] == 0) and np.all(maps[3:, 20:] == 1)


def test_other_methods_and_bad_input():
    rng = np.random.default_rng(3)
    stack = rng.random((3, 32, 32))
    np.testing.assert_array_equal(binarize_stack(stack, 0.5), (stack > 0.5).view(np.uint8))
    with pytest.raises(ValueError, match="method"):
        binarize_stack(stack, "median")
    with pytest.raises(ValueError, match="3D"):
        binarize_stack(stack[0])
    with pytest.raises(ValueError, match="at least 2 frames"):
        binarize_stack(stack[:1])
    bad = stack.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        binarize_stack(bad)
