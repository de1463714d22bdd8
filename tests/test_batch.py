"""The batch command line (classify, report, demo) and the report plots."""

import csv

import numpy as np
import pytest
import tifffile
import zarr

import napari_hamiltonian as nh
from napari_hamiltonian.imaging import files
from napari_hamiltonian.inference import batch
from napari_hamiltonian.output import figures, folder, messages
from napari_hamiltonian.output import report as folder_report
from napari_hamiltonian.cli import main
from napari_hamiltonian.output.labelfile import label_values
from napari_hamiltonian.samples import field_sweep_stack, microscope_view
from napari_hamiltonian.inference.sliding import classify_image


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small seven-class model file on 32x32 windows."""
    X, y, _ = nh.simulate.make_dataset(80, size=32, seed=31, progress=False)
    clf = nh.HamiltonianClassifier(hidden_units=16, epochs=4, random_state=0).fit(X, y)
    assert clf.unreliable() is None  # its rejection decides
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


def accepted_values(ref, other):
    """Label values of a result by the documented rule, written out here: class k + 1
    where accepted, a class the model cannot tell from others taking its group's first
    class's value; ``other`` elsewhere."""
    lead = np.arange(len(ref.classes))
    for g in ref.groups:
        members = [list(ref.classes).index(c) for c in g]
        lead[members] = min(members)
    return np.where(ref.confident, lead[ref.labels] + 1, other)


def test_classify_writes_labels_csv_and_pngs(model, stack, tmp_path, capsys):
    path, clf = model
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    out = tmp_path / "out"
    assert main(["classify", str(tmp_path / "s.tif"), "--out", str(out), "--model",
                 str(path), "--stride", "2"]) == 0
    # the answer for the input, in one line, whatever it is
    refs = [classify_image(x, clf, stride=2) for x in stack]
    assert f"{tmp_path / 's.tif'}: {messages.answer_line(refs)}" in capsys.readouterr().out
    folder = out / "s"
    labels = tifffile.imread(folder / "labels.tif")
    conf = tifffile.imread(folder / "confident.tif")
    for t in range(3):  # the layer's values: class k + 1, 8 for "none of these"
        ref = classify_image(stack[t], clf, stride=2)
        np.testing.assert_array_equal(labels[t], accepted_values(ref, len(nh.CLASSES) + 1))
        np.testing.assert_array_equal(conf[t], ref.confident)
    rows = read_csv(folder / "fractions.csv")
    assert [int(r["frame"]) for r in rows] == [0, 1, 2]
    shares = [sum(float(r[f"fraction {c}"]) for c in nh.CLASSES) for r in rows]
    assert np.allclose(shares, 1, atol=1e-4)
    for name in ("bars/t00002.png", "distribution.png", "criticality.png"):
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
    assert not list(folder.rglob("*.tmp"))


def test_rerun_skips_finished_frames_and_refuses_other_settings(model, stack, tmp_path,
                                                                capsys):
    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    args = ["classify", str(tmp_path / "s.npy"), "--out", str(tmp_path / "o"), "--model",
            str(path), "--stride", "3"]
    assert main(args) == 0
    frames = tmp_path / "o" / "s" / "frames"
    kept = (frames / "t00000.npz").stat().st_mtime_ns
    assert "kept from an earlier run" not in capsys.readouterr().out
    (frames / "t00001.npz").unlink()  # as if interrupted before frame 1 was written
    assert main(args) == 0
    assert f"{len(stack) - 1} of {len(stack)} frames were kept" in capsys.readouterr().out
    assert (frames / "t00000.npz").stat().st_mtime_ns == kept
    assert (frames / "t00001.npz").exists()
    assert main(args[:-1] + ["4"]) == 2  # other stride: refused, nothing touched
    assert (frames / "t00000.npz").stat().st_mtime_ns == kept
    assert main(args[:-1] + ["4", "--overwrite"]) == 0
    assert (frames / "t00000.npz").stat().st_mtime_ns != kept


def test_a_setting_dropped_is_named_when_refused(model, stack, tmp_path, capsys):
    """Rerunning without --mask into the same folder is refused naming the region (the
    message listed only the new run's settings: "( differ)", then the record's key,
    "region_sha256")."""
    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    mask = np.ones(stack.shape[1:], np.uint8)
    mask[:, :10] = 0
    tifffile.imwrite(tmp_path / "m.tif", mask)
    args = ["classify", str(tmp_path / "s.npy"), "--out", str(tmp_path / "o"), "--model",
            str(path), "--stride", "6"]
    assert main(args + ["--mask", str(tmp_path / "m.tif")]) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "(another region (--mask))" in capsys.readouterr().err


def interrupt_second_save(monkeypatch):
    """Make the second frame save raise KeyboardInterrupt (Ctrl-C); returns the real
    save function."""
    real = batch.save_frame
    calls = []

    def flaky(p, result):
        calls.append(p)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(p, result)

    monkeypatch.setattr(batch, "save_frame", flaky)
    return real


def test_an_interrupted_run_leaves_no_partial_file(model, stack, tmp_path, monkeypatch):
    path, clf = model
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    real = interrupt_second_save(monkeypatch)
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
        np.testing.assert_array_equal(files.read_stack(tmp_path / name).compute(), stack)
    assert files.read_stack(tmp_path / "one.tif").shape == (1, 60, 60)
    (tmp_path / "a.bmp").write_bytes(b"BM")
    with pytest.raises(ValueError, match="TIFF, PNG, JPEG, .npy or .zarr"):
        files.read_stack(tmp_path / "a.bmp")


def test_tiffs_that_are_not_one_sweep_are_refused_by_name(stack, tmp_path):
    """Issue 31, item 4: pages of different sizes or types are not read as page 0
    alone, and channels are not read as frames of a sweep."""
    with tifffile.TiffWriter(tmp_path / "mixed.tif") as tw:
        tw.write(stack[0], photometric="minisblack")
        tw.write(stack[1, :40, :40], photometric="minisblack")
    with pytest.raises(ValueError, match="mixed.tif holds 2 pages of different sizes"):
        files.read_stack(tmp_path / "mixed.tif")
    with tifffile.TiffWriter(tmp_path / "types.tif") as tw:
        tw.write(stack[0], photometric="minisblack")
        tw.write(stack[1].astype(np.float32), photometric="minisblack")
    with pytest.raises(ValueError, match="different sizes or types"):
        files.read_stack(tmp_path / "types.tif")
    tifffile.imwrite(tmp_path / "cyx.ome.tif", stack[:2], photometric="minisblack",
                     metadata={"axes": "CYX"})
    with pytest.raises(ValueError, match="2 channels .*Split Channels"):
        files.read_stack(tmp_path / "cyx.ome.tif")
    tifffile.imwrite(tmp_path / "tyx.ome.tif", stack, photometric="minisblack",
                     metadata={"axes": "TYX"})
    np.testing.assert_array_equal(files.read_stack(tmp_path / "tyx.ome.tif").compute(), stack)


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
    fig = figures.bar_chart(fr)
    bars = fig.axes[0].patches
    heights = [round(b.get_height(), 6) for b in bars]
    # confident, then the rest, then "none": all windows that are none of the classes
    assert heights == [50.0, 10.0, 0.0, 10.0, 20.0, 10.0, 40.0]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][-1] == "none"


def test_demo_runs_on_the_bundled_stack(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--stride", "4"]) == 0
    rows = read_csv(tmp_path / "demo" / "rf2d_stack" / "fractions.csv")
    assert len(rows) == 8 and "applied field H (J)" in rows[0]
    assert (tmp_path / "demo" / "rf2d_stack" / "criticality.png").exists()
    # the last frame (metal fraction 0.85, outside the snapshot window the classes were
    # trained on) is mostly "none of these", and the demo says so in words
    unlike = [int(r["frame"]) for r in rows if float(r["none of these"]) > 0.5]
    assert 7 in unlike
    assert "unlike every training class" in capsys.readouterr().out


def _classify(paths, out, model_path, *extra):
    return main(["classify", *map(str, paths), "--out", str(out), "--model",
                 str(model_path), "--stride", "4", *extra])


def _labels(folder):
    return tifffile.imread(folder / "labels.tif")


def test_inputs_with_the_same_name_get_their_own_folders(model, stack, tmp_path):
    path, clf = model
    for day, frames in (("day1", stack[:2]), ("day2", stack[1:])):
        (tmp_path / day).mkdir()
        tifffile.imwrite(tmp_path / day / "sample.tif", frames, photometric="minisblack")
    np.save(tmp_path / "run.a.npy", stack[:1])
    np.save(tmp_path / "run.b.npy", stack[2:])
    np.save(tmp_path / ".hidden.npy", stack[1:2])
    out = tmp_path / "R"
    inputs = [tmp_path / "day1" / "sample.tif", tmp_path / "day2" / "sample.tif",
              tmp_path / "run.a.npy", tmp_path / "run.b.npy", tmp_path / ".hidden.npy"]
    assert _classify(inputs, out, path) == 0
    expected = {"day1-sample": stack[:2], "day2-sample": stack[1:], "run.a": stack[:1],
                "run.b": stack[2:], "hidden": stack[1:2]}
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for name, frames in expected.items():
        labels = _labels(out / name)
        for t, frame in enumerate(frames):
            np.testing.assert_array_equal(labels[t], label_values(classify_image(frame, clf, 4)))
    # another input of the same name later, into the same folder: refused
    np.save(tmp_path / "day1" / "run.a.npy", stack)
    assert _classify([tmp_path / "day1" / "run.a.npy"], out, path) == 2
    assert _labels(out / "run.a").shape[0] == 1
    assert _classify([inputs[2], inputs[2]], tmp_path / "R2", path) == 2  # given twice


def test_a_replaced_input_is_recomputed(model, stack, tmp_path, capsys):
    path, clf = model
    src = tmp_path / "s.npy"
    np.save(src, stack[:1])
    assert _classify([src], tmp_path / "o", path) == 0
    np.save(src, stack[2:])  # same name, same shape, new data
    assert _classify([src], tmp_path / "o", path) == 0
    assert "changed" in capsys.readouterr().out
    np.testing.assert_array_equal(_labels(tmp_path / "o" / "s")[0],
                                  label_values(classify_image(stack[2], clf, 4)))
    frame = tmp_path / "o" / "s" / "frames" / "t00000.npz"
    before = frame.stat().st_mtime_ns
    assert _classify([src], tmp_path / "o", path, "--overwrite") == 0
    assert frame.stat().st_mtime_ns != before  # --overwrite always recomputes


def test_saved_frames_of_a_stack_keep_their_numbers_and_placement(model, stack, tmp_path):
    """A save of frames 0 and 2 of a 3-frame stack: labels.tif has the stack's 3 frames
    (0 = not classified), the CSV and charts the stack's frame numbers as integers, and
    the file's description places it over the image and names every value."""
    from napari_hamiltonian.output.labelfile import read_labels

    _, clf = model
    res = {t: classify_image(stack[t], clf, stride=4) for t in (0, 2)}
    source = {"n_frames": 3, "scale": [1.0, 0.5, 0.25], "translate": [0.0, 10.0, 20.0],
              "units": ["s", "um", "um"]}
    folder = folder_report.save_results(tmp_path / "save", res, clf, source)
    rows = read_csv(folder / "fractions.csv")
    assert [r["frame"] for r in rows] == ["0", "2"]
    assert sorted(p.name for p in (folder / "bars").iterdir()) == ["t00000.png", "t00002.png"]
    data, kw = read_labels(folder / "labels.tif")
    assert data.shape == (3,) + res[0].labels.shape and not data[1].any()
    assert set(np.unique(data[2])) <= set(range(1, 9))
    from napari_hamiltonian.classes import group_name  # a group is named as one region
    assert kw["metadata"]["label_values"][1] == group_name(nh.CLASSES[0], res[0].groups)
    assert kw["metadata"]["label_values"][8] == "none of these"
    assert kw["metadata"]["frames"] == [0, 2]
    half = (clf.window_ - 1) / 2
    assert kw["scale"] == [1.0, 2.0, 1.0]  # stride 4 times the image's pixel size
    assert kw["translate"] == [0.0, 10.0 + 0.5 * half, 20.0 + 0.25 * half]
    # saving again into it replaces the earlier save: frame 2 gone, frame 1 there
    folder_report.save_results(folder, {1: res[2]}, clf, source)
    assert [r["frame"] for r in read_csv(folder / "fractions.csv")] == ["1"]
    assert not read_labels(folder / "labels.tif")[0][2].any()
    # a folder with the user's own files is refused, and left as it was
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="did not write"):
        folder_report.save_results(other, res, clf, source)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    with pytest.raises(ValueError, match="nothing to save"):
        folder_report.save_results(tmp_path / "empty", {}, clf, source)


def test_files_the_tool_did_not_write_are_not_overwritten(model, stack, tmp_path):
    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    mine = tmp_path / "o" / "s" / "labels.tif"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own labels")
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 2
    assert mine.read_bytes() == b"the user's own labels"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["labels.tif"]


@pytest.mark.parametrize("make, extra", [
    (lambda p: tifffile.imwrite(p, np.linspace(0, 255, 60 * 60).reshape(60, 60)), []),
    (lambda p: tifffile.imwrite(p, np.zeros((2, 60, 60), np.uint8)), ["--stride", "0"]),
    (lambda p: tifffile.imwrite(p, np.full((60, 60), np.nan, np.float32)),
     ["--threshold", "otsu"]),
    (lambda p: tifffile.imwrite(p, np.zeros((60, 60, 3), np.uint8), photometric="rgb"),
     ["--threshold", "otsu"]),
    (lambda p: tifffile.imwrite(p, np.zeros((60, 60), np.uint8)), ["--threshold", "nan"]),
    (lambda p: tifffile.imwrite(p, np.zeros((60, 60), np.uint8)), ["--threshold", "5"]),
])
def test_bad_input_writes_nothing_and_the_corrected_rerun_works(model, stack, tmp_path,
                                                                make, extra, capsys):
    path, _ = model
    bad = tmp_path / "in.tif"
    make(bad)
    out = tmp_path / "o"
    assert _classify([bad], out, path, *extra) == 2
    err = capsys.readouterr().err
    assert "in.tif" in err or "stride" in err or "threshold" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.rglob("*"))
    tifffile.imwrite(bad, stack, photometric="minisblack")
    assert _classify([bad], out, path) == 0


def test_empty_stacks_broken_models_and_unreadable_files_get_one_line(model, stack,
                                                                      tmp_path, capsys):
    path, _ = model
    np.save(tmp_path / "empty.npy", np.zeros((0, 60, 60), np.uint8))
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not really a tiff")
    broken_model = tmp_path / "m.safetensors"
    broken_model.write_bytes(path.read_bytes()[:1000])
    cases = [([tmp_path / "empty.npy"], path, "no frames"),
             ([tmp_path / "broken.tif"], path, "broken.tif"),
             ([tmp_path / "missing.tif"], path, "does not exist")]
    for inputs, model_path, words in cases:
        assert _classify(inputs, tmp_path / "o", model_path) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and err.count("\n") == 1
    np.save(tmp_path / "s.npy", stack)
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", broken_model) == 2
    assert "m.safetensors" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert _classify([tmp_path / "s.npy"], tmp_path / "file", path) == 2
    assert "is a file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_results_folders_survive_damage_strays_and_shorter_reruns(model, stack, tmp_path):
    path, clf = model
    np.save(tmp_path / "s.npy", stack)
    (tmp_path / "T.txt").write_text("2.1\n2.2\n2.3\n")
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path, "--temperatures",
                     str(tmp_path / "T.txt")) == 0
    folder = tmp_path / "o" / "s"
    (folder / "frames" / "t00001.npz").write_bytes(b"PK\x03\x04 damaged")
    (folder / "frames" / "t00000 copy.npz").write_bytes(b"stray")
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 0
    labels = _labels(folder)
    assert labels.shape[0] == 3  # the stray copy is not a frame
    np.testing.assert_array_equal(labels[1], label_values(classify_image(stack[1], clf, 4)))
    rows = read_csv(folder / "fractions.csv")
    assert [float(r["temperature"]) for r in rows] == [2.1, 2.2, 2.3]  # kept on rerun
    # a shorter input replaces a longer one: no stale charts of frame 2 remain
    np.save(tmp_path / "s.npy", stack[:2])
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path, "--overwrite") == 0
    assert sorted(p.name for p in (folder / "bars").iterdir()) == ["t00000.png",
                                                                     "t00001.png"]


@pytest.mark.parametrize("content", [
    {"logits": np.zeros((2, 2, 7), np.float32), "distance": np.zeros((2, 2))},  # grid
    {"logits": np.zeros((8, 8)), "distance": np.zeros(8)},  # not (ny, nx, classes)
    {"scores": np.zeros((1,))},  # scores of another layout
])
def test_a_frame_with_the_right_keys_but_wrong_content_is_computed_again(
        model, stack, tmp_path, content):
    """Issue 31: a frame file holding every key but arrays that do not fit the run was
    kept as done, so every rerun failed on it ("rerun classify" gave the same error);
    the rerun now computes it again."""
    path, clf = model
    np.save(tmp_path / "s.npy", stack)
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 0
    frame = tmp_path / "o" / "s" / "frames" / "t00001.npz"
    with np.load(frame) as d:
        arrays = {k: d[k] for k in d.files}
    np.savez(frame, **{**arrays, **content})
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 0
    np.testing.assert_array_equal(_labels(tmp_path / "o" / "s")[1],
                                  label_values(classify_image(stack[1], clf, 4)))


def test_report_with_another_model_is_refused(model, stack, tmp_path, capsys):
    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 0
    assert main(["report", str(tmp_path / "o" / "s")]) == 2  # the shipped model
    assert "another model" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "o" / "s"), "--model", str(path)]) == 0


def test_report_takes_the_shipped_model_the_folder_records(tmp_path, capsys):
    """Issue 31: report on a folder classified with a shipped grey model advised --model
    where --psf-sigma 2 was the fix; it now takes the recorded shipped model, and a wrong
    --psf-sigma is answered with the right one."""
    frames = field_sweep_stack(size=110, fractions=(0.4, 0.6), seed=3)[0]
    np.save(tmp_path / "g.npy", microscope_view(frames, 2.0, seed=1))  # levels 50, 200
    assert main(["classify", str(tmp_path / "g.npy"), "--out", str(tmp_path / "o"),
                 "--psf-sigma", "2", "--levels", "50", "200", "--stride", "5"]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "o" / "g")]) == 0
    assert main(["report", str(tmp_path / "o" / "g"), "--psf-sigma", "3"]) == 2
    assert "pass --psf-sigma 2" in capsys.readouterr().err


def test_a_model_with_integer_labels_classifies_and_reports(stack, tmp_path):
    X, y, _ = nh.simulate.make_dataset(10, size=32, seed=5, classes=["C-2D", "P-2D"],
                                       progress=False)
    clf = nh.HamiltonianClassifier(hidden_units=8, epochs=1, random_state=0)
    clf.fit(X, (y == "P-2D").astype(int))
    path = clf.save(tmp_path / "int.safetensors")
    np.save(tmp_path / "s.npy", stack)
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 0
    rows = read_csv(tmp_path / "o" / "s" / "fractions.csv")
    assert {"fraction 0", "fraction 1"} <= set(rows[0])


def test_interrupt_message_says_what_was_kept(model, stack, tmp_path, monkeypatch, capsys):
    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    interrupt_second_save(monkeypatch)
    assert _classify([tmp_path / "s.npy"], tmp_path / "o", path) == 130
    err = capsys.readouterr().err
    assert "kept in" in err and str(tmp_path / "o" / "s") in err
    assert "no output was written" not in err


def test_switching_binarises_the_stack_as_a_whole(model, tmp_path):
    """--threshold switching: each pixel metal from the frame it switches; the labels
    are those of the binarised stack classified as binary frames."""
    path, clf = model
    frames, _ = field_sweep_stack(size=60, fractions=(0.2, 0.4, 0.6, 0.8), seed=2)
    grey = microscope_view(frames, blur=1.0, noise=0.08)
    tifffile.imwrite(tmp_path / "sweep.tif", grey, photometric="minisblack")
    assert main(["classify", str(tmp_path / "sweep.tif"), "--out", str(tmp_path / "o"),
                 "--model", str(path), "--stride", "4", "--threshold", "switching"]) == 0
    maps = nh.binarize_stack(grey)
    got = folder.load_frames(tmp_path / "o" / "sweep", clf)
    assert list(got) == list(range(len(frames)))
    for t, result in got.items():
        np.testing.assert_array_equal(result.labels, classify_image(maps[t], clf, 4).labels)
    one = tmp_path / "one.tif"
    tifffile.imwrite(one, grey[:1], photometric="minisblack")
    assert main(["classify", str(one), "--out", str(tmp_path / "o1"), "--model", str(path),
                 "--threshold", "switching"]) == 2
    assert not (tmp_path / "o1").exists()


def test_model_and_psf_sigma_are_alternatives(model, stack, tmp_path, capsys):
    path, _ = model
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    assert main(["classify", str(tmp_path / "s.tif"), "--out", str(tmp_path / "o"),
                 "--model", str(path), "--psf-sigma", "2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_model_at_chance_level_is_called_so():
    assert "near chance (14.3% for 7 classes)" in messages.chance_message(0.125, 7)
    assert messages.chance_message(0.95, 7) == ""
    assert messages.chance_message(float("nan"), 7) == ""


def test_frames_with_an_earlier_rejections_scores_are_refused_by_name(model, stack,
                                                                     tmp_path, capsys):
    """Results written before the rejection changed hold three score columns: the
    report names the file and the fix instead of deciding from the wrong columns."""
    path, clf = model
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    assert main(["classify", str(tmp_path / "s.tif"), "--out", str(tmp_path / "o"),
                 "--model", str(path), "--stride", "4"]) == 0
    frame = tmp_path / "o" / "s" / "frames" / "t00001.npz"
    with np.load(frame) as d:
        old = {k: d[k] for k in d.files}
    old["scores"] = np.zeros(old["distance"].shape + (3,))
    np.savez_compressed(frame, **old)
    before = frame.read_bytes()
    with pytest.raises(ValueError, match=r"t00001\.npz holds rejection scores of another "
                                         r"version.*rerun classify"):
        folder.load_frames(tmp_path / "o" / "s", clf)
    assert main(["report", str(tmp_path / "o" / "s"), "--model", str(path)]) == 2
    assert "t00001.npz" in capsys.readouterr().err
    assert frame.read_bytes() == before  # the user's results are left as they were
    # and the rerun it advises computes that frame again
    assert main(["classify", str(tmp_path / "s.tif"), "--out", str(tmp_path / "o"),
                 "--model", str(path), "--stride", "4"]) == 0
    assert len(folder.load_frames(tmp_path / "o" / "s", clf)) == len(stack)


def test_classify_reports_the_cluster_geometry_beside_the_cnn(model, stack, tmp_path):
    """geometry.csv and geometry.png beside the CNN's report: each frame's measures, the
    classes they fit and whether that agrees with the CNN's majority, in words."""
    from napari_hamiltonian import geometry

    path, _ = model
    frames = np.stack([nh.simulate.percolation(1, size=200, p=0.5927, seed=s)[0]
                       for s in (1, 2)])
    np.save(tmp_path / "p.npy", frames)
    assert _classify([tmp_path / "p.npy"], tmp_path / "o", path, "--min-size", "12") == 0
    folder = tmp_path / "o" / "p"
    rows = read_csv(folder / "geometry.csv")
    assert [r["frame"] for r in rows] == ["0", "1"]
    direct = geometry.measure(frames[1], 12)
    assert float(rows[1]["hull"]) == pytest.approx(direct.values["hull"], abs=1e-4)
    assert rows[1]["min size"] == "12"
    assert all("P-2D" in r["consistent with"].split() for r in rows)  # what drew them
    for r in rows:  # the words follow the CNN's majority and the consistent classes
        agrees = any(c in r["consistent with"].split() for c in
                     r["CNN answer"].split(" or "))
        assert r["verdict"].startswith("the cluster geometry agrees") == agrees
    assert (folder / "geometry.png").read_bytes()[:4] == b"\x89PNG"


def test_geometry_command_measures_images_without_the_cnn(tmp_path, capsys):
    from napari_hamiltonian.simulate.percolation import PC_2D

    frames = nh.simulate.percolation(2, size=200, p=PC_2D, seed=4)
    tifffile.imwrite(tmp_path / "perc.tif", frames, photometric="minisblack")
    assert main(["geometry", str(tmp_path / "perc.tif"), "--out", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "frame 1:" in out and "consistent with:" in out
    rows = read_csv(tmp_path / "g" / "perc" / "geometry.csv")
    assert [r["frame"] for r in rows] == ["0", "1"]
    assert (tmp_path / "g" / "perc" / "geometry.png").read_bytes()[:4] == b"\x89PNG"
    grey = np.random.default_rng(0).random((120, 120))
    np.save(tmp_path / "grey.npy", grey)
    assert main(["geometry", str(tmp_path / "grey.npy")]) == 2  # grey needs a threshold
    assert "threshold" in capsys.readouterr().err


def test_classify_with_phase_levels_and_a_grey_model(stack, tmp_path, capsys):
    """--levels: a grey model reads the micrographs in phase units (labels as
    classify_image gives them), the settings record the levels, report finds them."""
    from napari_hamiltonian.imaging.optics import Instrument, render_training_set

    X, y, _ = nh.simulate.make_dataset(12, size=32, seed=32, progress=False)
    grey = nh.HamiltonianClassifier(hidden_units=16, epochs=2, random_state=0,
                                    psf_sigma=1.0, input_kind="grey").fit(
        render_training_set(X, 1.0, seed=1, binarisation="none"), y)
    path = tmp_path / "grey.safetensors"
    grey.save(path)
    rng = np.random.default_rng(0)
    micro = Instrument(1.0, insulator=900.0, metal=300.0, noise=40.0,
                       binarisation="none").grey(stack, rng).astype(np.float32)
    tifffile.imwrite(tmp_path / "m.tif", micro, photometric="minisblack")
    out = tmp_path / "out"
    assert main(["classify", str(tmp_path / "m.tif"), "--out", str(out), "--model",
                 str(path), "--stride", "4", "--levels", "900", "300"]) == 0
    labels = tifffile.imread(out / "m" / "labels.tif")
    for t in range(len(stack)):
        ref = classify_image(micro[t], grey, stride=4, levels=(900, 300))
        np.testing.assert_array_equal(labels[t], accepted_values(ref, len(nh.CLASSES) + 1))
    assert folder.recorded_reading(out / "m").levels == (900.0, 300.0)
    assert main(["report", str(out / "m"), "--model", str(path)]) == 0
    # without levels, or with a threshold, the grey model says what it needs
    for extra, match in (([], "levels"), (["--threshold", "otsu"], "--levels")):
        assert main(["classify", str(tmp_path / "m.tif"), "--out", str(tmp_path / "o2"),
                     "--model", str(path)] + extra) == 2
        assert match in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()


def test_levels_and_psf_sigma_pick_the_shipped_grey_model(tmp_path, capsys):
    import json

    from napari_hamiltonian.imaging.optics import Instrument
    from napari_hamiltonian.classifier.pretrained import SHIPPED, SHIPPED_GREY

    lattice = nh.simulate.percolation(2, size=120, p=0.59, seed=3)
    micro = Instrument(2.0, insulator=50.0, metal=250.0, noise=20.0,
                       binarisation="none").grey(lattice, np.random.default_rng(2))
    tifffile.imwrite(tmp_path / "g.tif", micro.astype(np.float32), photometric="minisblack")
    for name, extra, digest in (("grey", ["--levels", "50", "250"], SHIPPED_GREY[2.0][1]),
                                ("binary", ["--threshold", "150"], SHIPPED[2.0][1])):
        out = tmp_path / name
        assert main(["classify", str(tmp_path / "g.tif"), "--out", str(out), "--psf-sigma",
                     "2", "--stride", "20"] + extra) == 0
        settings = json.loads((out / "g" / "settings.json").read_text())
        assert settings["model_sha256"] == digest
        # blurred percolation read by density: the grey model says what that rests on
        said = capsys.readouterr().out
        assert ("P-2D against P* rests on the phase levels" in said) == (name == "grey")
        assert main(["report", str(out / "g"), "--psf-sigma", "2"]) == 0
    ref = classify_image(micro[1], psf_sigma=2.0, levels=(50, 250), stride=20)
    labels = tifffile.imread(tmp_path / "grey" / "g" / "labels.tif")[1]
    np.testing.assert_array_equal(labels, accepted_values(ref, len(nh.CLASSES) + 1))


def test_geometry_references_never_write_into_the_package(tmp_path, monkeypatch, capsys):
    """Without --out the references go to the current folder under the shipped file's
    name; the package's own file is refused as an output before any work."""
    from napari_hamiltonian.cli import main
    from napari_hamiltonian.geometry import reference_file
    from napari_hamiltonian.classifier.modelfile import file_sha256

    shipped = reference_file(0.0)
    before = file_sha256(shipped)
    assert main(["geometry-references", "--out", str(shipped)]) == 2
    assert "shipped references" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["geometry-references", "--n-per-class", "2", "--size", "48",
                 "--lattices", "1"]) == 0
    assert (tmp_path / shipped.name).is_file()
    assert file_sha256(shipped) == before


def test_words_for_a_frame_follow_the_model_that_read_it():
    """The advice for a frame unlike every class names the resolution model only to a
    user of the lattice-scale model; the split of the windows is given in words."""
    from types import SimpleNamespace

    from napari_hamiltonian.inference.sliding import WindowResult

    n = 16
    rejected = WindowResult(labels=np.zeros((4, 4), np.int16),
                            confident=np.zeros((4, 4), bool),
                            logits=np.zeros((4, 4, 7), np.float32),
                            distance=np.zeros((4, 4)), classes=nh.CLASSES, stride=1,
                            window=100)
    lattice = messages.unlike_message([rejected], [3],
                                      SimpleNamespace(psf_sigma=0.0, input_kind="binary"))
    assert "use the model for its resolution" in lattice
    blurred = messages.unlike_message([rejected], [3],
                                      SimpleNamespace(psf_sigma=2.0, input_kind="binary"))
    assert "use the model for its resolution" not in blurred and "2 px" in blurred
    unsure = WindowResult(labels=np.zeros((4, 4), np.int16),
                          confident=np.arange(n).reshape(4, 4) < 4,
                          cannot_tell=np.arange(n).reshape(4, 4) >= 8,
                          logits=np.zeros((4, 4, 7), np.float32),
                          distance=np.zeros((4, 4)), classes=nh.CLASSES, stride=1, window=100)
    assert unsure.answer() == "cannot tell at this resolution"
    words = messages.unlike_message([unsure], [0], SimpleNamespace(psf_sigma=2.0,
                                                                 input_kind="grey"))
    assert "25% named, 50% cannot tell, 25% none of these" in words
    assert "grey model" not in words  # the grey model already read it
    assert messages.answer_line([unsure]).startswith("cannot tell at this resolution (25%")
    assert messages.answer_line([unsure, rejected, unsure], [0, 1, 2]) == (
        "3 frames: cannot tell at this resolution in 2 (frames 0, 2); none of these in 1 "
        "(frame 1)")


def test_the_cli_gives_warnings_in_words(tmp_path, capsys):
    """A grey model given a binary image: the warning is one line of words naming the
    fix, not a Python warning with source lines."""
    image = nh.simulate.percolation(1, size=150, p=0.59, seed=8)[0]
    tifffile.imwrite(tmp_path / "b.tif", image)
    assert main(["classify", str(tmp_path / "b.tif"), "--out", str(tmp_path / "out"),
                 "--psf-sigma", "2", "--levels", "0", "1", "--stride", "50"]) == 0
    err = capsys.readouterr().err
    assert "napari-hamiltonian classify: warning: this image holds two values" in err
    assert "UserWarning" not in err and "drop levels=" in err


def test_the_cli_says_once_that_a_model_cannot_classify(tmp_path, capsys):
    """A model near chance: the warning comes before any work, in words, once (the
    frames' own warning of it is not repeated), and no window is named."""
    X, y, _ = nh.simulate.make_dataset(12, size=32, seed=21, progress=False)
    weak = nh.HamiltonianClassifier(hidden_units=8, epochs=1, random_state=0).fit(X, y)
    assert weak.unreliable() is not None
    weak.save(tmp_path / "weak.safetensors")
    tifffile.imwrite(tmp_path / "img.tif", nh.simulate.rfim(1, size=64, seed=3)[0])
    assert main(["classify", str(tmp_path / "img.tif"), "--out", str(tmp_path / "out"),
                 "--model", str(tmp_path / "weak.safetensors"), "--stride", "8"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("classify: warning: this model's validation accuracy") == 1
    assert "none of these (0% named" in captured.out


def test_a_results_folder_is_written_by_one_run_at_a_time(model, stack, tmp_path, capsys):
    """Issue 31, item 5: a second run into an --out that a running one holds is refused
    by name before any work; a claim left by a run that died is taken over; a failed
    run leaves no empty folder behind."""
    import subprocess
    import sys

    from napari_hamiltonian.output.files import LOCK_NAME, claimed

    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    out = tmp_path / "out"
    cmd = ["classify", str(tmp_path / "s.npy"), "--out", str(out), "--model", str(path),
           "--stride", "8"]
    with claimed(out):
        assert main(cmd) == 2
        assert "being written by another napari-hamiltonian run" in capsys.readouterr().err
        assert not (out / "s").exists()
    assert not out.exists()  # the claim made the folder and nothing was written
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    import socket
    out.mkdir()
    (out / LOCK_NAME).write_text(f"{dead.stdout.strip()} {socket.gethostname()} 2026-01-01")
    assert main(cmd) == 0  # the dead run's claim is taken over
    assert (out / "s" / "fractions.csv").exists() and not (out / LOCK_NAME).exists()
    import json  # issue 28: settings.json says which model, resolution and input read it

    recorded = json.loads((out / "s" / "settings.json").read_text())["model"]
    assert recorded == {"file": path.name, "psf_sigma": 0.0, "input": "binary",
                        "window": 32}
    assert main(cmd) == 0  # the record does not make the same run "other settings"
    assert main(["classify", str(tmp_path / "missing.npy"), "--out",
                 str(tmp_path / "new"), "--model", str(path)]) == 2
    assert not (tmp_path / "new").exists()


def test_outputs_never_land_in_the_users_data_or_files(model, stack, tmp_path, capsys):
    """Issue 31, items 12 and 14: geometry --out gives same-stem inputs their own
    folders and keeps a user's geometry.csv unless --overwrite; classify and geometry
    refuse an --out inside an input (a zarr store)."""
    path, _ = model
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        np.save(tmp_path / day / "s.npy", stack[:1] if day == "day1" else stack[1:])
    inputs = [str(tmp_path / d / "s.npy") for d in ("day1", "day2")]
    out = tmp_path / "geo"
    assert main(["geometry", *inputs, "--out", str(out)]) == 0
    assert len(read_csv(out / "day1-s" / "geometry.csv")) == 1
    assert len(read_csv(out / "day2-s" / "geometry.csv")) == 2
    (out / "day1-s" / "geometry.csv").write_text("mine\n")
    assert main(["geometry", *inputs, "--out", str(out)]) == 2
    assert "already holds geometry.csv" in capsys.readouterr().err
    assert (out / "day1-s" / "geometry.csv").read_text() == "mine\n"
    assert main(["geometry", *inputs, "--out", str(out), "--overwrite"]) == 0
    zarr.save_array(str(tmp_path / "v3.zarr"), stack)
    before = sorted(p.name for p in (tmp_path / "v3.zarr").iterdir())
    for cmd in (["classify", str(tmp_path / "v3.zarr"), "--model", str(path)],
                ["geometry", str(tmp_path / "v3.zarr")]):
        assert main([*cmd, "--out", str(tmp_path / "v3.zarr")]) == 2
        assert "inside the input" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "v3.zarr").iterdir()) == before


@pytest.mark.parametrize("damage", [{"classes": ["C-2D"]}, {"colors": "red", "values": 3},
                                    {"colors": {"one": "red"}, "values": {}, "classes": []}])
def test_a_damaged_labels_description_is_named_not_a_traceback(tmp_path, damage):
    """Issue 31: a labels.tif whose class table was edited or cut short gave the napari
    reader a KeyError; it now says the file's table is damaged and what to do."""
    from napari_hamiltonian.output.labelfile import METADATA_KEY
    from napari_hamiltonian.plugin._reader import get_reader

    path = tmp_path / "labels.tif"
    tifffile.imwrite(path, np.ones((4, 4), np.uint8), metadata={METADATA_KEY: damage})
    reader = get_reader(str(path))
    assert reader is not None  # it is ours: the reader answers, in words
    with pytest.raises(ValueError, match="class table is damaged.*open it as an image"):
        reader(str(path))


def test_a_zarr_groups_advice_leads_to_a_run(model, stack, tmp_path, capsys):
    """Issue 31: a zarr group names its arrays and the path to give; that path (an
    array inside the store) is then read, and an --out inside the store is refused."""
    path, _ = model
    group = zarr.open_group(str(tmp_path / "run.zarr"), mode="w")
    group.create_array("frames", shape=stack.shape, dtype=stack.dtype)[:] = stack
    out = tmp_path / "out"
    assert main(["classify", str(tmp_path / "run.zarr"), "--model", str(path),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    advised = tmp_path / "run.zarr" / "frames"
    assert "holding the arrays frames" in err and str(advised) in err
    assert main(["classify", str(advised), "--model", str(path), "--out", str(out)]) == 0
    assert len(folder.frame_files(out / "run-frames" / "frames")) == len(stack)
    assert main(["classify", str(advised), "--model", str(path),
                 "--out", str(tmp_path / "run.zarr" / "results")]) == 2
    assert "inside the input" in capsys.readouterr().err
    assert not (tmp_path / "run.zarr" / "results").exists()


def test_a_frame_too_large_for_memory_is_refused_before_it_is_read(model, tmp_path, capsys):
    """Issue 31: a zarr declaring a 200000 x 200000 frame (its chunks unwritten) was
    loaded whole by the pre-check (MemoryError); it is refused by its size, naming the
    memory it needs, and nothing is written."""
    path, _ = model
    zarr.open(str(tmp_path / "huge.zarr"), mode="w", shape=(1, 200_000, 200_000),
              chunks=(1, 1000, 1000), dtype="f4")
    out = tmp_path / "out"
    assert main(["classify", str(tmp_path / "huge.zarr"), "--model", str(path),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "200000x200000 pixels" in err and "GiB of memory" in err and "crop" in err
    assert not out.exists()


def test_a_nan_in_a_later_frame_stops_the_run_before_anything_is_written(model, stack,
                                                                          tmp_path, capsys):
    """Issue 31, item 15: NaN in frame 2 was found after frame 0 and the settings had
    been written; now it is named before any work, and a mask that leaves it out
    lets the run go on."""
    path, _ = model
    grey = stack.astype(np.float32)
    grey[2, 5, 5] = np.nan
    np.save(tmp_path / "g.npy", grey)
    cmd = ["classify", str(tmp_path / "g.npy"), "--model", str(path), "--stride", "8",
           "--threshold", "0.5"]
    assert main([*cmd, "--out", str(tmp_path / "o")]) == 2
    assert "frame(s) 2 contain NaN" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    mask = np.ones(stack.shape[1:], np.uint8)
    mask[:20, :20] = 0
    tifffile.imwrite(tmp_path / "m.tif", mask)
    assert main([*cmd, "--out", str(tmp_path / "o"), "--mask", str(tmp_path / "m.tif")]) == 0


def test_listed_mistakes_get_words_not_tracebacks(model, stack, tmp_path, capsys):
    """Issue 31's tracebacks: a two-column temperature file, a symlink loop, a folder
    as input, --min-size 0, and a data set too large for the machine are each said
    in one line naming the fix, before any work."""
    from contextlib import nullcontext

    path, _ = model
    np.save(tmp_path / "s.npy", stack)
    (tmp_path / "T2.txt").write_text("1 2\n3 4\n5 6\n")
    (tmp_path / "loop.tif").symlink_to(tmp_path / "loop.tif")
    out = str(tmp_path / "o")
    cases = [
        (["classify", str(tmp_path / "s.npy"), "--model", str(path), "--out", out,
          "--temperatures", str(tmp_path / "T2.txt")], "holds 2 columns"),
        (["classify", str(tmp_path / "loop.tif"), "--model", str(path), "--out", out],
         "loop of symbolic links"),
        (["classify", str(tmp_path), "--model", str(path), "--out", out],
         "a folder; give image files"),
        (["classify", str(tmp_path / "s.npy"), "--model", str(path), "--out", out,
          "--min-size", "0"], "must be a whole number >= 1"),
        (["generate", str(tmp_path / "d.npz"), "--n-per-class", "1000000000"],
         "generate fewer images per file"),
        (["generate", str(tmp_path / "d.npz"), "--size", "4000", "--n-per-class", "2"],
         "smaller ones"),
        (["classify", str(tmp_path / "s.npy"), "--out", out, "--registr", "--flat-feild"],
         "napari-hamiltonian classify: error: unrecognized arguments: --registr (did you "
         "mean --register?) --flat-feild (did you mean --flat-field?)"),
    ]
    for cmd, words in cases:
        refused = "--min-size" in cmd or "--registr" in cmd  # by argparse: it exits
        with pytest.raises(SystemExit) if refused else nullcontext():
            assert main(cmd) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, cmd
    assert not (tmp_path / "o").exists() and not (tmp_path / "d.npz").exists()


def test_the_bar_charts_legend_shows_the_colours_of_its_bars():
    """Issue 29: the legend's swatches were grey while the bars are class colours."""
    from matplotlib.colors import to_rgba

    fractions = {"C-2D": (0.1, 0.05), "RF-2D": (0.7, 0.6), "P*": (0.2, 0.2)}
    fig = figures.bar_chart(fractions)
    ax = fig.axes[0]
    tallest = ax.patches[1]  # the confident part of RF-2D's bar
    swatches = ax.get_legend().get_patches()
    assert swatches[0].get_facecolor() == to_rgba(tallest.get_facecolor())
    assert swatches[1].get_facecolor() == to_rgba(ax.patches[4].get_facecolor())
