"""Training a family's parameter regressor and measuring it against the physics
baselines on images of an independent seed: the numbers its card carries."""

from __future__ import annotations

import time

import numpy as np

from ..parameters.baselines import baseline
from ..parameters.families import (
    FRAME_SIDES,
    as_micrographs,
    calibration_frames,
    family,
    simulate_family,
)
from ..parameters.regressor import MIN_FRAMES, HamiltonianRegressor

#: Nominal coverage of the intervals the evaluation checks.
COVERAGE = 0.9
#: Sub-ranges of the first parameter reported apart (equal quarters of its range).
N_SUBRANGES = 4


def fit_family(name: str, n_images: int, seed: int = 0, size: int = 100,
               epochs: int = 8, verbose: int = 0, psf_sigma: float = 0.0) -> tuple:
    """Simulate ``n_images`` of family ``name`` (seed ``seed``; seen through a microscope
    of PSF ``psf_sigma`` px and binarised, :func:`~napari_hamiltonian.parameters.
    families.as_micrographs`, where it is > 0), fit a regressor and calibrate its frame
    estimates on ``n_images / 25`` frames (at least 20) of the sides
    :data:`~napari_hamiltonian.parameters.families.FRAME_SIDES` (seed ``seed + 500``),
    read as parameter maps read frames.

    Returns
    -------
    (HamiltonianRegressor, images, targets, seconds of simulation)
    """
    fam = family(name)
    t0 = time.perf_counter()
    images, targets = simulate_family(name, n_images, size, seed)
    images = as_micrographs(images, psf_sigma, seed)
    simulated = time.perf_counter() - t0
    reg = HamiltonianRegressor(parameter_names=fam.parameters, epochs=epochs,
                               statistics=fam.statistics, head_epochs=fam.head_epochs,
                               random_state=seed,
                               verbose=verbose).fit(images, targets)
    n_frames = max(MIN_FRAMES, n_images // 25)
    frames, truth = calibration_frames(name, n_frames, seed + 500, psf_sigma)
    reg.calibrate_frames(frames, truth)
    reg.training_info_.update(family=fam.name, seed=seed, size=size, psf_sigma=float(psf_sigma),
                              simulation_seconds=round(simulated, 1),
                              ranges=[list(r) for r in fam.ranges],
                              frame_calibration={"n_frames": len(frames),
                                                 "sides": list(FRAME_SIDES[fam.name]),
                                                 "seed": seed + 500,
                                                 "stride": reg.frame_stride_})
    return reg, images, targets, simulated


def evaluate_family(reg: HamiltonianRegressor, name: str, test_images: np.ndarray,
                    test_targets: np.ndarray, train_images=None, train_targets=None
                    ) -> dict:
    """Mean absolute errors of the regressor and the family's baseline, overall and per
    quarter of the first parameter's range, and the coverage and mean width of the
    nominal :data:`COVERAGE` intervals, per parameter."""
    fam = family(name)
    estimate = reg.predict(test_images).reshape(len(test_images), -1)
    interval = reg.predict_interval(test_images, COVERAGE).reshape(len(test_images), -1, 2)
    base = baseline(name, train_images, train_targets)(test_images)
    truth = test_targets.reshape(len(test_images), -1)
    out = {"family": name, "n_test": int(len(truth)), "parameters": {}}
    lo, hi = fam.ranges[0]
    edges = np.linspace(lo, hi, N_SUBRANGES + 1)
    part = np.clip(np.searchsorted(edges, truth[:, 0], side="right") - 1, 0, N_SUBRANGES - 1)
    for j, pname in enumerate(fam.parameters):
        err, berr = np.abs(estimate[:, j] - truth[:, j]), np.abs(base[:, j] - truth[:, j])
        inside = (truth[:, j] >= interval[:, j, 0]) & (truth[:, j] <= interval[:, j, 1])
        out["parameters"][pname] = {
            "mae": float(err.mean()), "baseline_mae": float(berr.mean()),
            "coverage": float(inside.mean()),
            "width": float((interval[:, j, 1] - interval[:, j, 0]).mean()),
            "subranges": [{"range": [float(edges[q]), float(edges[q + 1])],
                           "n": int((part == q).sum()),
                           "mae": float(err[part == q].mean()) if (part == q).any() else None,
                           "baseline_mae": float(berr[part == q].mean())
                           if (part == q).any() else None,
                           "coverage": float(inside[part == q].mean())
                           if (part == q).any() else None}
                          for q in range(N_SUBRANGES)]}
    return out


def card_section(result: dict, reg: HamiltonianRegressor) -> str:
    """Markdown of one family's evaluation (a section of the regressors' card)."""
    info = reg.training_info_
    psf = float(info.get("psf_sigma", 0.0))
    seen = f", seen through a Gaussian PSF of {psf:g} px and binarised" if psf else ""
    frames = info.get("frame_calibration") or {}
    head = (f" after {reg.head_epochs} of its head on the statistics alone"
            if reg.head_epochs else "")
    lines = [f"## {result['family']}" + (f" at {psf:g} px" if psf else ""), "",
             f"Trained on {info.get('n_images')} simulated {info.get('size')} x "
             f"{info.get('size')} images{seen} (seed {info.get('seed')}; ranges "
             f"{info.get('ranges')}; {info.get('n_calibration')} held out to calibrate "
             f"the intervals), {reg.epochs} epochs{head}, {info.get('seconds')} s of "
             f"training; measured on {result['n_test']} images of an independent seed. "
             f"Frame estimates calibrated on {frames.get('n_frames')} frames of "
             f"{frames.get('sides')} px (seed {frames.get('seed')}).", "",
             "| parameter | range | network MAE | baseline MAE | network / baseline | "
             f"{COVERAGE:.0%} interval covers | mean width |",
             "|---|---|---|---|---|---|---|"]
    first = next(iter(result["parameters"]))
    for pname, r in result["parameters"].items():
        for sub in [None] + r["subranges"]:
            row = r if sub is None else sub
            if row["mae"] is None:
                continue
            span = "all" if sub is None else \
                f"{first} {sub['range'][0]:.3g}-{sub['range'][1]:.3g}"
            width = f"{r['width']:.4g}" if sub is None else ""
            ratio = (f"{row['mae'] / row['baseline_mae']:.2f}" if row["baseline_mae"] > 0
                     else "(exact baseline)")
            lines.append(f"| {pname} | {span} | {row['mae']:.4g} | {row['baseline_mae']:.4g}"
                         f" | {ratio} | {row['coverage']:.1%} | {width} |")
    return "\n".join(lines) + "\n"
