"""Add the geometry references of patterns none of the seven draws to the shipped
references of every resolution (issue 26, item 4), keeping the classes' references.

    python benchmarks/outside_references.py [--n 26] [--size 384]

``napari-hamiltonian geometry-references`` builds both from scratch (about 20 minutes);
this adds :func:`napari_hamiltonian.geometry.outside_references` to the files in
``src/napari_hamiltonian/models`` (about a minute per resolution).
"""

from __future__ import annotations

import argparse

from napari_hamiltonian.geometry import (REFERENCE_SIGMAS, References, outside_references,
                                         reference_file)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=26)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for sigma in REFERENCE_SIGMAS:
        path = reference_file(sigma)
        ref = References.load(path)
        ref.outside = outside_references(args.n, args.size, args.seed, sigma, ref.min_size)
        ref.info["outside"] = {"n_per_family": args.n, "size": args.size, "seed": args.seed,
                               "command": "python benchmarks/outside_references.py"}
        ref.save(path)
        print(path.name, {f: round(r["mean"]["tau"], 2) for f, r in ref.outside.items()})


if __name__ == "__main__":
    main()
