"""The batch command line (classify, report, demo) and the report plots."""

import csv

import numpy as np
import pytest
import tifffile
import zarr

import napari_hamiltonian as nh
from napari_hamiltonian import batch, report
from napari_hamiltonian.cli import main
from napari_hamiltonian.samples import microscope_view
from napari_hamiltonian.sliding import classify_image


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small seven-class model file on 32x32 windows."""
    X, y, _ = nh.simulate.make_dataset(12, size=32, seed=31, progress=False)
    clf = nh.HamiltonianClassifier(hidden_units=16, epochs=2, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("model") / "small.safetensors"
    clf.save(path)
    return path, clf


@pytest.fixture(scope="module")
def stack():
    return np.stack([nh.simulate.percolation(1, size=60, p=p, seed=9)[0]
                     for p in (0.3, 0.5, 0.7)])


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_classify_writes_labels_csv_and_pngs(model, stack, tmp_path):
    path, clf = model
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    out = tmp_path / "out"
    assert main(["classify", str(tmp_path / "s.tif"), "--out", str(out), "--model",
                 str(path), "--stride", "2"]) == 0
    folder = out / "s"
    labels = tifffile.imread(folder / "labels.tif")
    conf = tifffile.imread(folder / "confident.tif")
    for t in range(3):
        ref = classify_image(stack[t], clf, stride=2)
        np.testing.assert_array_equal(labels[t], ref.labels)
        np.testing.assert_array_equal(conf[t], ref.confident)
    rows = read_csv(folder / "fractions.csv")
    assert [int(r["frame"]) for r in rows] == [0, 1, 2]
    shares = [sum(float(r[f"fraction {c}"]) for c in nh.CLASSES) for r in rows]
    assert np.allclose(shares, 1, atol=1e-4)
    for name in ("bars/t00002.png", "distribution.png", "criticality.png"):
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
    assert not list(folder.rglob("*.tmp"))


def test_rerun_skips_finished_frames_and_refuses_other_settings(model, stack, tmp_path):
    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    args = ["classify", str(tmp_path / "s.npy"), "--out", str(tmp_path / "o"), "--model",
            str(path), "--stride", "3"]
    assert main(args) == 0
    frames = tmp_path / "o" / "s" / "frames"
    kept = (frames / "t00000.npz").stat().st_mtime_ns
    (frames / "t00001.npz").unlink()  # as if interrupted before frame 1 was written
    assert main(args) == 0
    assert (frames / "t00000.npz").stat().st_mtime_ns == kept
    assert (frames / "t00001.npz").exists()
    assert main(args[:-1] + ["4"]) == 2  # other stride: refused, nothing touched
    assert (frames / "t00000.npz").stat().st_mtime_ns == kept
    assert main(args[:-1] + ["4", "--overwrite"]) == 0
    assert (frames / "t00000.npz").stat().st_mtime_ns != kept


def test_an_interrupted_run_leaves_no_partial_file(model, stack, tmp_path, monkeypatch):
    path, clf = model
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    real = batch.save_frame
    calls = []

    def flaky(p, result):
        calls.append(p)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(p, result)

    monkeypatch.setattr(batch, "save_frame", flaky)
    with pytest.raises(KeyboardInterrupt):
        batch.classify_file(tmp_path / "s.tif", tmp_path / "o", clf, "x", 2, progress=False)
    folder = tmp_path / "o" / "s"
    assert sorted(p.name for p in (folder / "frames").iterdir()) == ["t00000.npz"]
    assert not (folder / "labels.tif").exists() and not list(folder.rglob("*.tmp"))
    monkeypatch.setattr(batch, "save_frame", real)
    batch.classify_file(tmp_path / "s.tif", tmp_path / "o", clf, "x", 2, progress=False)
    assert tifffile.imread(folder / "labels.tif").shape[0] == 3


def test_inputs_tiff_pages_zarr_and_npy_read_the_same(stack, tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", stack, photometric="minisblack")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tw:
        for frame in stack:
            tw.write(frame, contiguous=False, photometric="minisblack")
    np.save(tmp_path / "c.npy", stack)
    zarr.save_array(str(tmp_path / "d.zarr"), stack)
    tifffile.imwrite(tmp_path / "one.tif", stack[0])
    for name in ("a.tif", "pages.tif", "c.npy", "d.zarr"):
        np.testing.assert_array_equal(batch.read_stack(tmp_path / name).compute(), stack)
    assert batch.read_stack(tmp_path / "one.tif").shape == (1, 60, 60)
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    with pytest.raises(ValueError, match="TIFF, .npy or .zarr"):
        batch.read_stack(tmp_path / "a.png")


def test_grayscale_with_otsu_and_temperatures(model, stack, tmp_path):
    path, clf = model
    gray = microscope_view(stack, blur=0.7, noise=0.05)
    tifffile.imwrite(tmp_path / "g.tif", gray, photometric="minisblack")
    (tmp_path / "T.txt").write_text("2.1\n2.2\n2.3\n")
    assert main(["classify", str(tmp_path / "g.tif"), "--out", str(tmp_path / "o"),
                 "--model", str(path), "--stride", "4", "--threshold", "otsu",
                 "--temperatures", str(tmp_path / "T.txt")]) == 0
    rows = read_csv(tmp_path / "o" / "g" / "fractions.csv")
    assert [float(r["temperature"]) for r in rows] == [2.1, 2.2, 2.3]
    assert main(["classify", str(tmp_path / "g.tif"), "--out", str(tmp_path / "o2"),
                 "--model", str(path)]) == 2  # grayscale without a threshold
    (tmp_path / "T2.txt").write_text("1\n2\n")
    assert main(["report", str(tmp_path / "o" / "g"), "--model", str(path),
                 "--temperatures", str(tmp_path / "T2.txt")]) == 2


def test_bar_chart_shows_confident_and_flagged_shares():
    fr = {"C-2D": (0.6, 0.5), "RF-2D": (0.3, 0.1), "P*": (0.1, 0.0)}
    fig = report.bar_chart(fr)
    bars = fig.axes[0].patches
    heights = [round(b.get_height(), 6) for b in bars]
    assert heights == [50.0, 10.0, 0.0, 10.0, 20.0, 10.0]  # confident, then the rest


def test_demo_runs_on_the_bundled_stack(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--stride", "25"]) == 0
    rows = read_csv(tmp_path / "demo" / "rf2d_stack" / "fractions.csv")
    assert len(rows) == 8 and "applied field H (J)" in rows[0]
    assert (tmp_path / "demo" / "rf2d_stack" / "criticality.png").exists()
