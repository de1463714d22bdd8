"""The seven-class data set, its file format and the ``generate`` command."""

import os

import numba
import numpy as np
import pytest

import napari_hamiltonian as nh
from napari_hamiltonian.cli import main
from napari_hamiltonian.simulate import load_dataset, make_dataset, save_dataset
from napari_hamiltonian.simulate.table import CLASS_TABLE


@pytest.fixture(scope="module")
def small():
    return make_dataset(n_per_class=14, size=16, seed=3, progress=False)


def test_classes_counts_and_parameter_ranges(small):
    X, y, params = small
    assert nh.CLASSES == ("C-2D", "C-3D", "RF-2D", "RF-3D", "P-2D", "P-3D", "P*")
    assert X.shape == (8 * 14, 16, 16) and X.dtype == np.uint8
    assert set(np.unique(X)) == {0, 1}
    counts = {c: int((y == c).sum()) for c in nh.CLASSES}
    assert counts == {**{c: 14 for c in nh.CLASSES}, "P*": 28}
    for c in nh.CLASSES:
        par = params["parameter"][y == c]
        rng = np.atleast_2d(CLASS_TABLE[c][2])
        inside = np.any([(par >= lo) & (par <= hi) for lo, hi in rng], axis=0)
        assert inside.all(), c
        assert set(params["parameter_name"][y == c]) == {CLASS_TABLE[c][1]}
    assert set(params["slice"][y == "C-3D"]) >= {"z-surface-0", "x-0", "y-3/4"}
    assert np.all(np.isnan(params["up_fraction"][y == "P-2D"]))
    assert np.all(params["up_fraction"][y == "RF-2D"] >= 0.35)


def test_same_seed_same_set_whatever_the_threads(small):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        X1, y1, p1 = make_dataset(n_per_class=14, size=16, seed=3, progress=False)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(X1, small[0])
    np.testing.assert_array_equal(y1, small[1])
    np.testing.assert_array_equal(p1["parameter"], small[2]["parameter"])
    X2, _, _ = make_dataset(n_per_class=14, size=16, seed=4, progress=False)
    assert not np.array_equal(X2, small[0])


def test_a_class_does_not_change_when_others_are_left_out(small):
    X, y, _ = make_dataset(n_per_class=14, size=16, seed=3, classes=["RF-2D"],
                           progress=False)
    np.testing.assert_array_equal(X, small[0][small[1] == "RF-2D"])


def test_save_load_round_trip_is_atomic_and_refuses_to_overwrite(small, tmp_path):
    X, y, params = small
    path = save_dataset(tmp_path / "d.npz", X, y, params, {"seed": 3})
    X2, y2, p2, info = load_dataset(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(p2["slice"], params["slice"])
    assert info["seed"] == 3 and info["shape"] == list(X.shape)
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # the usual mode, not mkstemp's
    mtime = os.stat(path).st_mtime_ns
    with pytest.raises(FileExistsError, match="overwrite"):
        save_dataset(path, X[:2], y[:2], {k: v[:2] for k, v in params.items()})
    assert os.stat(path).st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # no temporary left


def test_a_failed_write_names_its_file_and_long_names_are_written(tmp_path, monkeypatch):
    """Issue 31, item 13: a full disk said a bare "[Errno 28]" with no path, and a name
    near the file-system limit failed because the temporary name was longer."""
    import errno

    from napari_hamiltonian.output.files import atomic_write

    name = "a" * 250 + ".csv"
    atomic_write(tmp_path / name, b"1")
    assert (tmp_path / name).read_bytes() == b"1"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="free some space") as info:
        atomic_write(tmp_path / "x.bin", b"abc")
    assert info.value.filename == str(tmp_path / "x.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


def test_generate_command(tmp_path, capsys):
    out = tmp_path / "set.npz"
    args = [str(out), "--n-per-class", "3", "--size", "16", "--classes", "P-2D", "RF-2D"]
    assert main(["generate", *args]) == 0
    X, y, _, info = load_dataset(out)
    assert X.shape == (6, 16, 16) and info["classes"] == ["RF-2D", "P-2D"]
    assert main(["generate", *args]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["generate", *args, "--overwrite", "--size", "7"]) == 2
    assert "size must be" in capsys.readouterr().err
    np.testing.assert_array_equal(load_dataset(out)[0], X)  # failed run left it intact


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_per_class=0), "n_per_class must be"),
        (dict(size=4), "size must be"),
        (dict(classes=["Potts"]), "unknown class"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(**{"n_per_class": 2, "size": 16, "progress": False, **kwargs})


def test_damaged_or_inconsistent_data_sets_are_refused(small, tmp_path):
    import json
    import zipfile

    X, y, params = small
    path = save_dataset(tmp_path / "d.npz", X, y, params)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.npz.*damaged"):
        load_dataset(cut)
    # a header that promises more images than the packed pixels hold: no zero padding
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta["shape"][0] += 3
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "long.npz", **arrays)
    with pytest.raises(ValueError, match="long.npz.*packed pixels"):
        load_dataset(tmp_path / "long.npz")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("a.npy", b"not an array")
    with pytest.raises(ValueError, match="other.npz"):
        load_dataset(tmp_path / "other.npz")
    assert main(["train", str(cut), "--out", str(tmp_path / "m.safetensors")]) == 2
    assert not (tmp_path / "m.safetensors").exists()


def test_generate_and_train_check_the_destination_first(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["generate", str(blocker / "d.npz"), "--n-per-class", "1", "--size", "16",
                 "--classes", "P*"]) == 2
    assert "is a file" in capsys.readouterr().err
    path = save_dataset(tmp_path / "d.npz", *make_dataset(2, size=16, seed=0,
                                                          classes=["C-2D", "P*"],
                                                          progress=False))
    assert main(["train", str(path), "--out", str(blocker / "m.safetensors"),
                 "--epochs", "1", "--hidden-units", "4"]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err


def test_no_image_twice_and_rfim_metadata_is_true(small):
    X, y, params = small
    assert len({x.tobytes() for x in X}) == len(X)  # no duplicate anywhere in the set
    rf = y == "RF-2D"
    # the recorded up fraction is the snapshot's own (2D: the whole lattice is the image)
    np.testing.assert_allclose(params["up_fraction"][rf], X[rf].mean(axis=(1, 2)))
    assert np.all(np.isfinite(params["field"][y == "RF-3D"]))
    assert np.all(np.isnan(params["field"][y == "C-2D"]))


def test_none_of_these_images_are_labelled_and_categorised():
    X, y, params = make_dataset(2, size=16, seed=5, classes=["P-2D"], n_none=48,
                                progress=False)
    none = y == "none"
    assert none.sum() == 48 and (y == "P-2D").sum() == 2
    cats = set(params["slice"][none])
    assert {"C-2D hot", "RF-3D weak disorder", "stripes", "uniform", "blurred"} <= cats
    assert len({x.tobytes() for x in X}) == len(X)
    # small nearly uniform images repeat easily: repeats were replaced, not kept
    X2, y2, _ = make_dataset(2, size=16, seed=5, classes=["P-2D"], n_none=48,
                             progress=False)
    np.testing.assert_array_equal(X, X2)  # and the set is still deterministic
