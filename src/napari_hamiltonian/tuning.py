"""Process-wide tuning, in one place, each with the one off switch.

The package changes two process-wide settings, each only while its own work runs and
only because measurements showed the need (see each function): glibc's mmap threshold
where stacks are classified, and the garbage collector's thresholds while the widgets'
background work runs. A host that shares the process (napari with other plugins, a
service) can turn both off by setting the environment variable
``NAPARI_HAMILTONIAN_NO_TUNING`` to a non-empty value other than ``0``; results are the
same, only memory and pauses differ.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import sys

#: Environment variable that turns the tuning off.
NO_TUNING = "NAPARI_HAMILTONIAN_NO_TUNING"


def enabled() -> bool:
    """Whether tuning is on (:data:`NO_TUNING` unset, empty or ``0``)."""
    return os.environ.get(NO_TUNING, "") in ("", "0")


def physical_memory() -> int | None:
    """This machine's memory (bytes), or None where the system does not say; the
    checks that refuse work too large for it, before the work, compare with it."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


@functools.cache
def steady_memory() -> None:
    """Fix glibc's mmap threshold at 1 MiB in this process (Linux only).

    glibc raises its mmap threshold after large blocks are freed; the big per-variant
    buffers of whole-image classification then come from the heap and fragment it: over
    a 100-frame stack the peak RSS grew to 4.3 GiB, against 1.2 GiB for 40 frames with a
    fixed 1 MiB threshold, at the same speed. The setting is process-wide and glibc has
    no call that restores the dynamic threshold, so it is made only where stacks are
    classified (each Dask task of :func:`classify_stack`, in the process that runs it),
    never on import or for single images.
    """
    if enabled() and sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):
            pass


_HELD = [0, None]  # background runs under way; the collector's thresholds before them

#: Tracked objects a background run may allocate before the youngest generation is
#: collected (Python's default: 700). Saving results draws about twenty matplotlib figures,
#: about 150,000 objects in reference cycles: with the default they are promoted to the
#: oldest generation while drawn, and only a full collection frees them.
YOUNG_THRESHOLD = 200_000


def hold_full_collections() -> None:
    """No full garbage collection while background work runs: one over napari's heap
    holds every thread, the GUI's too, for 0.2-0.5 s. Objects allocated meanwhile stay
    in the youngest generation (:data:`YOUNG_THRESHOLD`), so that the garbage of the
    run (figures, cycles) is freed by a young collection, which scans only them, when
    the last run ends (:func:`release_full_collections`); the collector then goes on
    with its thresholds as before."""
    if _HELD[0] == 0 and not enabled():
        return
    if _HELD[0] == 0:
        _HELD[1] = gc.get_threshold()
        gc.set_threshold(max(_HELD[1][0], YOUNG_THRESHOLD), _HELD[1][1], 2**31 - 1)
    _HELD[0] += 1


def release_full_collections() -> None:
    """The end of one background run: after the last, a young collection and the
    collector's thresholds as they were."""
    _HELD[0] = max(_HELD[0] - 1, 0)
    if _HELD[0] == 0 and _HELD[1] is not None:
        gc.collect(1)  # the runs' garbage, still young: tens of ms, not napari's heap
        gc.set_threshold(*_HELD[1])
        _HELD[1] = None
