"""Whether ``estimate_psf_sigma`` sees blur: the fitted width and the F statistic of the
fit against the same model without blur, on sharp, uncorrelated and blurred images.

    python benchmarks/eval_psf_blur.py

Below ``optics.BLUR_EVIDENCE`` the estimate is 0 (no measurable blur).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

import napari_hamiltonian as nh
from napari_hamiltonian.imaging.drift import regions_in_frames
from napari_hamiltonian.imaging.optics import BLUR_EVIDENCE, Instrument, psf_fit
from napari_hamiltonian.imaging.region import largest_rectangle
from napari_hamiltonian.samples import raw_microscope_stack
from napari_hamiltonian.simulate.outliers import band_pass_noise


def cases(rng) -> dict:
    perc = nh.simulate.percolation(1, 300, p=0.59, seed=1)[0]
    sparse = nh.simulate.percolation(1, 300, p=0.1, seed=2)[0]
    rf = nh.simulate.rfim(1, 300, disorder=1.1, seed=3)[0]
    out = {"P-2D sharp (1000/3000)": perc * 2000.0 + 1000,
           "P-2D sharp, camera noise": perc * 2000.0 + rng.normal(1000, 150, (300, 300)),
           "P* sharp (p = 0.1)": sparse * 1.0,
           "white noise": rng.normal(0, 1, (300, 300)),
           "RF-2D sharp": rf * 1.0}
    for s in (0.7, 1.0, 2.0, 3.0):
        view = Instrument(psf_sigma=s, noise=0.1, binarisation="none")
        out[f"RF-2D, PSF {s:g} px"] = view.render(rf, rng)
        out[f"P* (p = 0.1), PSF {s:g} px"] = view.render(sparse, rng)
    labyrinth = band_pass_noise(300, 15.0, rng) > 0
    out["labyrinth, PSF 2.5 px"] = (ndimage.gaussian_filter(labyrinth * 1.0, 2.5)
                                    + rng.normal(0, 0.07, (300, 300)))
    out["white noise smoothed by 2 px"] = ndimage.gaussian_filter(rng.normal(0, 1, (300, 300)), 2)
    out.update(drifting())
    return out


def drifting() -> dict:
    """Frames of a drifting raw stack (``samples.raw_microscope_stack``, 2 px PSF) as
    recorded and after alignment, in the largest rectangle of the sample between the
    electrodes: a sub-pixel shift interpolates the noise."""
    d = raw_microscope_stack(seed=3)
    aligned, shifts, covered = nh.register_stack(d["raw"])
    region = covered & ~ndimage.binary_dilation(d["electrodes"], iterations=4)
    out = {}
    for t in (6, 12, 17):
        where = regions_in_frames(region, shifts[t:t + 1])[0]
        fraction = ", ".join(f"{v:.2f}" for v in shifts[t] % 1)
        out[f"raw stack (PSF 2 px), frame {t} as recorded"] = \
            d["raw"][t][largest_rectangle(where)].astype(float)
        out[f"the same aligned (shift fractions {fraction} px)"] = \
            aligned[t][largest_rectangle(region)]
    return out


def main() -> None:
    print(f"| image | fitted width (px) | F | estimate (px; 0 under F = {BLUR_EVIDENCE:g}) |")
    print("|---|---|---|---|")
    for name, image in cases(np.random.default_rng(0)).items():
        sigma, f = psf_fit(image)
        print(f"| {name} | {sigma:.2f} | {f:.1f} | {nh.estimate_psf_sigma(image):.2f} |")


if __name__ == "__main__":
    main()
