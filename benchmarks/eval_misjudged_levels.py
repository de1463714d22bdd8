"""What the 2 px models answer when the phase levels are misjudged (issue 13).

The 400x400 frames of ``eval_resolution.py`` (seed 2001; C-2D, RF-2D, P-2D and the
RF-3D surface) through the 2 px microscope of the whole-frame checks (insulator 1,
metal 2, signal to noise 8), classified with levels given wrong: shifted by 5 and 20 %
of the contrast, the contrast taken half or twice the true one. The grey model reads
the frame in the phase units of those levels; the binary model thresholds halfway
between them. Prints the answer (``WindowResult.answer``: "none of these" when most
windows are rejected), the share of windows of the true class and the share accepted.

Run: ``python benchmarks/eval_misjudged_levels.py`` (about 3 minutes). Prints Markdown.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from eval_resolution import frame_400, render_frame  # noqa: E402

#: (description, (insulator, metal)) as given; the truth is (1, 2).
LEVELS = (("exact", (1.0, 2.0)), ("5 % high", (1.05, 2.05)), ("20 % high", (1.2, 2.2)),
          ("20 % low", (0.8, 1.8)), ("contrast halved", (1.25, 1.75)),
          ("contrast doubled", (0.5, 2.5)))


def main() -> None:
    import napari_hamiltonian as nh

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {"binary": nh.load_pretrained(2.0), "grey": nh.load_pretrained(2.0, "grey")}
    print("| frame | levels given | " + " | ".join(f"{k} 2 px" for k in models) + " |")
    print("|---" * (2 + len(models)) + "|")
    for name in ("C-2D", "RF-2D", "P-2D", "RF-3D"):
        grey = render_frame(frame_400(name, 2001), np.random.default_rng(2001))[0]
        for text, levels in LEVELS:
            cells = []
            for clf in models.values():
                r = nh.classify_image(grey, clf, stride=10, levels=levels)
                truth = r.fractions()[name][0]
                cells.append(f"{r.answer()} ({truth:.0%} {name}, {r.confident.mean():.0%} "
                             "accepted)")
            print(f"| {name} | {text} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
