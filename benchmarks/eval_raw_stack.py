"""From a raw microscope stack to domain maps: registration, flat field, region, and the
answer against the same sweep rendered without the instrument's defects.

The stack (``napari_hamiltonian.samples.raw_microscope_stack``): an RF-2D field sweep on
a lattice larger than the field of view, 24 frames at metal fraction 0.15-0.85, through
a 2 px Gaussian PSF, 8-bit, 30 % vignetting, a random drift of up to 20 px, two bright
electrode strips covering 20 % of the field, and noise. Measured:

1. registration: the largest and the RMS error of the recovered shifts (px), and the
   time ``register_stack`` takes;
2. flat field: the variation of each phase's level across the field, in units of the
   contrast: exactly, from the illumination the stack was rendered with (each phase's
   level after the correction is its level at the centre times the true light over the
   estimated one; largest minus smallest over the region), and as measured on the
   image (8 x 8 blocks of frame 0, median of the pixels at least 6 px = 3 PSF sigma
   from a domain wall or an electrode), before and after; the same block measure on
   the clean frame gives that measure's floor (blur, noise, 8-bit steps, few domains
   per block);
3. the full path (drift measured on the raw frames -> region: every frame covers it,
   no electrode -> flat field of the raw frames, each with the region where the sample
   is in it -> aligned -> switching binarisation -> the 2 px model) against the clean
   stack read the same way over the same windows (those of the region), on the frames
   of the transition (metal fraction 0.35-0.65): accepted share over those frames and
   per frame, and majority class, beside the same comparison between two noise draws
   of the defect-free sweep (the floor of a per-frame difference: a frame's share
   rests on few independent windows); and the windows touching an electrode (none may
   be classified), and what the raw stack says without a region;
4. a region covering 30 % of a 760 x 760 frame: classification time against the full
   frame (one run each, interleaved) and labels identical inside.

Run: ``python benchmarks/eval_raw_stack.py [--seeds 0 1 2] [--stride 8]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

import napari_hamiltonian as nh
from napari_hamiltonian.imaging.illumination import illumination
from napari_hamiltonian.imaging.preparation import flat_field_drifting, regions_in_frames
from napari_hamiltonian.output.messages import unlike_message
from napari_hamiltonian.samples import field_sweep_stack, raw_microscope_stack


def level_spread(frame, phase, strips) -> float:
    """Largest minus smallest block mean of each phase, in units of the contrast."""
    core = ~ndimage.binary_dilation(strips, iterations=6) & np.isfinite(frame)
    metal = ndimage.binary_erosion(phase, iterations=6) & core  # 3 PSF sigma from walls
    insulator = ndimage.binary_erosion(~phase, iterations=6) & core
    blocks = np.array_split(np.arange(frame.shape[0]), 8)
    means = {"metal": [], "insulator": []}
    for rows in blocks:
        for cols in np.array_split(np.arange(frame.shape[1]), 8):
            sub = np.ix_(rows, cols)
            for name, m in (("metal", metal), ("insulator", insulator)):
                if m[sub].sum() > 30:
                    means[name].append(np.median(frame[sub][m[sub]]))
    contrast = np.mean(means["metal"]) - np.mean(means["insulator"])
    return max(np.ptp(v) for v in means.values()) / contrast


def level_error(true_light, region, raw, shifts) -> float:
    """Largest minus smallest level of either phase across frame 0's region after the
    flat field, from the illumination the stack was rendered with, in units of the
    contrast (insulator 60, metal 150 at the centre)."""
    light_mask = regions_in_frames(region, shifts)
    ratio = true_light / illumination(raw, mask=light_mask)
    ratio = ratio[light_mask[0]] / ratio[light_mask[0]].mean()
    return max(level * np.ptp(ratio) for level in (60, 150)) / 90


def transition_results(stack, mask, frames, stride):
    reading = nh.Reading("switching")
    lazy = nh.classify_stack(stack, reading=reading, psf_sigma=2, stride=stride, mask=mask)
    return {t: lazy.frame(t) for t in frames}


def path(seed: int, stride: int) -> dict:
    d = raw_microscope_stack(seed=seed)
    out = {}
    start = time.perf_counter()
    aligned, shifts, covered = nh.register_stack(d["raw"])
    out["register s"] = time.perf_counter() - start
    err = np.abs(shifts - d["shifts"])
    out["shift max"], out["shift rms"] = float(err.max()), float(np.sqrt((err ** 2).mean()))
    phase0 = d["clean"][0] > (40 + 90 * 0.5)  # the clean frame's phases (noise << contrast)
    out["levels before"] = level_spread(d["raw"][0].astype(float), phase0, d["electrodes"])
    region = covered & ~ndimage.binary_dilation(d["electrodes"], iterations=2)
    # the light belongs to the camera: flat field the raw frames, each with the region
    # where the sample is in it, then align them as the raw frames were
    flat = flat_field_drifting(d["raw"], shifts, region)
    out["levels after"] = level_spread(flat[0], phase0, d["electrodes"])
    out["levels exact"] = level_error(d["illumination"], region, d["raw"], shifts)
    out["levels clean"] = level_spread(d["clean"][0].astype(float), phase0, d["electrodes"])
    frames = [t for t, f in enumerate(d["fractions"]) if 0.35 <= f <= 0.65]
    raw = transition_results(flat, region, frames, stride)
    clean = transition_results(d["clean"], region, frames, stride)  # the same windows
    # the floor: a defect-free sweep (without drift the lattice is smaller, so another
    # pattern) rendered twice with other noise draws, read over the same windows
    redrawn = raw_microscope_stack(seed=seed, vignetting=0, max_drift=0, electrodes=0)
    one, two = (transition_results(redrawn[k], region, frames, stride)
                for k in ("raw", "clean"))
    out["floor"] = [abs(one[t].accepted() - two[t].accepted()) for t in frames]
    touch = ndimage.binary_dilation(d["electrodes"], iterations=1)
    for t in frames:
        r, c = raw[t], clean[t]
        out.setdefault("accepted raw", []).append(r.accepted())
        out.setdefault("accepted clean", []).append(c.accepted())
        out.setdefault("majority", []).append((r.answer(), c.answer()))
        n = r.window
        ys, xs = np.nonzero(r.inside)
        out.setdefault("windows on electrodes", []).append(int(sum(
            touch[y * stride:y * stride + n, x * stride:x * stride + n].any()
            for y, x in zip(ys, xs))))
    unmasked = nh.classify_stack(np.nan_to_num(flat, nan=float(np.nanmean(flat))),
                                 reading=nh.Reading("switching"), psf_sigma=2,
                                 stride=stride).frame(frames[len(frames) // 2])
    out["without region"] = (unmasked.answer(), unlike_message(
        [unmasked], [0], nh.load_pretrained(2)))
    return out


def region_speed() -> dict:
    img = field_sweep_stack(size=760, fractions=(0.5,), seed=1)[0][0]
    yy, xx = np.mgrid[:760, :760]
    disc = (yy - 380) ** 2 + (xx - 380) ** 2 < (0.30 * 760 * 760 / np.pi)
    clf = nh.load_pretrained()
    nh.classify_image(img[:110, :110], clf)  # compile
    times = {"full": [], "region": []}
    for _ in range(2):
        for name, mask in (("full", None), ("region", disc)):
            t = time.perf_counter()
            res = nh.classify_image(img, clf, stride=1, mask=mask)
            times[name].append(time.perf_counter() - t)
            if name == "full":
                full = res
            else:
                part = res
    same = bool(np.array_equal(full.labels[part.inside], part.labels[part.inside])
                and np.array_equal(full.confident[part.inside], part.confident[part.inside]))
    return {"area": float(disc.mean()), "full s": min(times["full"]),
            "region s": min(times["region"]), "identical inside": same,
            "windows inside": float(part.inside.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--stride", type=int, default=8)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    for seed in args.seeds:
        r = path(seed, args.stride)
        print(f"seed {seed}: shifts max {r['shift max']:.3f} px, rms {r['shift rms']:.3f} px"
              f" (register_stack {r['register s']:.1f} s);"
              f" phase levels across the field {r['levels exact']:.1%} of the contrast "
              f"after flat field (from the rendered light); on the image "
              f"{r['levels before']:.1%} raw, {r['levels after']:.1%} after flat field "
              f"({r['levels clean']:.1%} in the clean frame)")
        for a, c, m, e in zip(r["accepted raw"], r["accepted clean"], r["majority"],
                              r["windows on electrodes"]):
            print(f"  accepted {a:.1%} (clean {c:.1%}), answer {m[0]} (clean {m[1]}), "
                  f"classified windows touching an electrode: {e}")
        signed = np.subtract(r["accepted raw"], r["accepted clean"])
        diff = np.abs(signed)
        agree = np.mean([a == b for a, b in r["majority"]])
        # every frame has the same windows (the region's): the share over the transition
        # frames is the mean of the frames' shares
        print(f"  transition frames: accepted share {np.mean(r['accepted raw']):.1%} "
              f"(clean {np.mean(r['accepted clean']):.1%}: {signed.mean():+.1%}); per "
              f"frame within {diff.max():.1%} (mean {diff.mean():.1%}), same answer in "
              f"{agree:.0%}; two noise draws of the defect-free sweep: per frame within "
              f"{max(r['floor']):.1%} (mean {np.mean(r['floor']):.1%})")
        print(f"  without the region: {r['without region'][0]}; "
              f"{r['without region'][1] or '(no words)'}")
    if not args.skip_speed:
        s = region_speed()
        print(f"760x760 stride 1, region {s['area']:.0%} of the frame ({s['windows inside']:.0%}"
              f" of the windows): {s['region s']:.1f} s against {s['full s']:.1f} s "
              f"({s['region s'] / s['full s']:.0%}); labels identical inside: "
              f"{s['identical inside']}")


if __name__ == "__main__":
    main()
