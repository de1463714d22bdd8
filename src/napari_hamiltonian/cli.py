"""Command line: ``napari-hamiltonian generate ...``."""

from __future__ import annotations

import argparse
import sys

from .simulate.dataset import CLASSES


def _generate(args: argparse.Namespace) -> int:
    from .simulate.dataset import generate_to_file

    info = generate_to_file(args.out, args.n_per_class, args.size, args.seed,
                            args.classes, overwrite=args.overwrite)
    n = sum(args.n_per_class * (2 if c == "P*" else 1) for c in info["classes"])
    print(f"wrote {n} images ({', '.join(info['classes'])}) of {args.size}x{args.size} "
          f"to {args.out} in {info['seconds']} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``napari-hamiltonian`` command."""
    parser = argparse.ArgumentParser(
        prog="napari-hamiltonian",
        description="Which Hamiltonian drew these domains? Simulate, train, classify.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser(
        "generate",
        help="simulate the seven-class training set of Table I to a .npz file",
        description="Simulate the seven-class training set (Table I of Basak et al.) "
        "and write it, compressed and atomically, to one .npz file.",
    )
    gen.add_argument("out", nargs="?", default="dataset.npz",
                     help="output .npz file (default: dataset.npz)")
    gen.add_argument("--n-per-class", type=int, default=1000,
                     help="images per class, P* gets twice as many (default 1000; "
                     "the paper's set is 8000)")
    gen.add_argument("--size", type=int, default=100, help="image side (default 100)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.add_argument("--classes", nargs="+", choices=CLASSES, default=None,
                     metavar="CLASS", help=f"subset of {', '.join(CLASSES)}")
    gen.add_argument("--overwrite", action="store_true",
                     help="replace OUT if it exists")
    gen.set_defaults(func=_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``napari-hamiltonian`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileExistsError) as err:
        print(f"napari-hamiltonian {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
