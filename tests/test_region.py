"""From a raw microscope stack to domain maps: regions of interest, flat field, drift,
and the files users have."""

import json
import warnings

import numpy as np
import pytest
import tifffile
from scipy import ndimage

import napari_hamiltonian as nh
from napari_hamiltonian.cli import main
from napari_hamiltonian.imaging.files import pixel_size_nm, read_stack
from napari_hamiltonian.imaging.region import largest_rectangle, windows_inside
from napari_hamiltonian.samples import field_sweep_stack, microscope_view


@pytest.fixture(scope="module")
def aperture():
    """An RF-2D frame in a round aperture with a black surround (NaN outside)."""
    binary = field_sweep_stack(size=240, fractions=(0.5,), seed=4)[0][0]
    grey = microscope_view(binary[None], blur=1.0, seed=4)[0].astype(np.float64)
    yy, xx = np.mgrid[:240, :240]
    mask = (yy - 120) ** 2 + (xx - 120) ** 2 < 110 ** 2
    dark = np.where(mask, grey, 0.0)
    return binary, grey, dark, mask


def test_windows_inside_is_exact():
    rng = np.random.default_rng(0)
    mask = rng.random((60, 70)) > 0.02
    got = windows_inside(mask, mask.shape, 20, 3)
    for i in range(got.shape[0]):
        for j in range(got.shape[1]):
            assert got[i, j] == mask[3 * i:3 * i + 20, 3 * j:3 * j + 20].all()


def test_largest_rectangle_of_a_disc():
    yy, xx = np.mgrid[:101, :101]
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= 40 ** 2
    rows, cols = largest_rectangle(disc)
    assert disc[rows, cols].all()
    side = 40 * np.sqrt(2)  # the inscribed square
    assert (rows.stop - rows.start) * (cols.stop - cols.start) >= 0.95 * side ** 2


def test_an_aperture_is_read_inside_only(aperture):
    """Otsu from the pixels inside; windows outside not classified; inside identical to
    the frame read whole; NaN outside allowed with a region, refused without."""
    binary, grey, dark, mask = aperture
    reading = nh.Reading("otsu")
    inside = reading.binary(dark, mask)[mask]
    assert np.mean(inside == binary[mask]) > 0.97
    from napari_hamiltonian.plugin.session import suggest_levels
    insulator = np.median(grey[mask & (binary == 0)])
    assert suggest_levels(dark, 1.0)[0] == pytest.approx(0.0, abs=1)  # the surround's
    assert suggest_levels(dark, 1.0, mask=mask)[0] == pytest.approx(insulator, abs=20)
    masked = nh.classify_image(np.where(mask, grey, np.nan), stride=10, mask=mask,
                               reading=nh.Reading(float(np.median(grey))))
    whole = nh.classify_image(grey, stride=10, threshold=float(np.median(grey)))
    assert masked.inside.sum() == windows_inside(mask, mask.shape, 100, 10).sum() > 0
    np.testing.assert_array_equal(masked.labels[masked.inside], whole.labels[masked.inside])
    np.testing.assert_array_equal(masked.confident[masked.inside],
                                  whole.confident[masked.inside])
    assert not masked.confident[~masked.inside].any()
    assert np.isnan(masked.logits[~masked.inside]).all()
    total = sum(f for f, _ in masked.fractions().values())
    assert total == pytest.approx(1.0)  # shares of the windows inside
    from napari_hamiltonian.output.labelfile import label_values
    assert (label_values(masked)[~masked.inside] == 0).all()
    with pytest.raises(ValueError, match="mask="):
        nh.classify_image(np.where(mask, grey, np.nan), stride=10, threshold=100.0)


def test_stacks_with_a_region_equal_frames_with_it(aperture):
    import dask.array as da

    binary, grey, dark, mask = aperture
    stack = np.stack([dark, dark[::-1], dark[:, ::-1]])
    lazy = nh.classify_stack(da.from_array(stack, chunks=(1, 120, 120)), stride=12,
                             threshold="otsu", mask=mask)
    for t in range(3):
        one = nh.classify_image(stack[t], stride=12, threshold="otsu", mask=mask)
        got = lazy.frame(t)
        np.testing.assert_array_equal(got.inside, one.inside)
        np.testing.assert_array_equal(got.labels[got.inside], one.labels[one.inside])
        np.testing.assert_array_equal(got.confident, one.confident)


def test_switching_and_otsu_stacks_ignore_the_surround(aperture):
    binary, grey, dark, mask = aperture
    stack = np.stack([dark * 0.8, dark, dark * 1.2])
    maps = nh.binarize_stack(stack, "otsu", mask=mask)
    assert not maps[:, ~mask].any()
    assert np.mean(maps[1][mask] == binary[mask]) > 0.97


def test_the_psf_estimate_reads_the_region(aperture):
    binary = field_sweep_stack(size=300, fractions=(0.5,), seed=5)[0][0]
    blurred = ndimage.gaussian_filter(binary.astype(float), 2.5) \
        + np.random.default_rng(5).normal(0, 0.05, binary.shape)
    yy, xx = np.mgrid[:300, :300]
    mask = (yy - 150) ** 2 + (xx - 150) ** 2 < 140 ** 2
    dark = np.where(mask, blurred, 0.0)
    assert nh.estimate_psf_sigma(dark, mask=mask) == pytest.approx(2.5, rel=0.15)


def test_geometry_in_a_rectangle_equals_the_crop():
    binary = nh.simulate.percolation(1, 300, p=0.5927, seed=3)[0]
    mask = np.zeros(binary.shape, bool)
    mask[40:260, 30:280] = True
    crop = nh.geometry.measure(binary[40:260, 30:280], min_size=10)
    region = nh.geometry.measure(binary, min_size=10, mask=mask)
    assert region.n_clusters == crop.n_clusters and region.n_edge == crop.n_edge
    for m in nh.geometry.MEASURES:
        assert region.values[m] == pytest.approx(crop.values[m], nan_ok=True)


def test_flat_field_evens_the_phase_levels():
    binary = field_sweep_stack(size=300, fractions=(0.5,), seed=6)[0][0]
    yy, xx = np.mgrid[:300, :300] - 149.5
    light = 1 - 0.3 * (yy ** 2 + xx ** 2) / (2 * 149.5 ** 2)
    image = (60 + 90 * binary) * light
    flat = nh.flat_field(image)
    contrast = flat[binary == 1].mean() - flat[binary == 0].mean()
    for phase in (0, 1):
        values = flat[binary == phase]
        assert np.ptp(values) / contrast < 0.03
    clipped = image.copy()
    clipped[np.random.default_rng(6).random(image.shape) < 0.01] = 0  # the camera's floor
    evened = nh.flat_field(clipped)
    ok = clipped > 0
    assert np.ptp(evened[ok & (binary == 0)]) / contrast < 0.03
    with pytest.raises(ValueError, match="at or below zero"):
        nh.flat_field(image - 200)


def _vignetted(light_of_radius, noise: float, size: int = 300) -> tuple:
    """A blurred (2 px) two-phase frame (insulator 60, metal 150) under a light of the
    distance from the centre (px), with a gold electrode on the left 20 % and noise;
    returns the image, the light and the region (the electrode left out)."""
    binary = field_sweep_stack(size=size, fractions=(0.5,), seed=6)[0][0].astype(float)
    cut = size // 5
    scene = np.where(np.arange(size) < cut, 2.2, binary)  # gold
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    light = light_of_radius(yy, xx)
    image = (60 + 90 * ndimage.gaussian_filter(scene, 2.0)) * light \
        + np.random.default_rng(6).normal(0, noise, scene.shape)
    region = np.ones(image.shape, bool)
    region[:, :cut + 2] = False
    return image, light, region


def _level_spread(light, estimate, region) -> float:
    """The largest spread of either phase's level (metal 150) after the correction, in
    units of the contrast (90)."""
    ratio = (light / estimate)[region]
    return 150 * np.ptp(ratio / ratio.mean()) / 90


def test_flat_field_of_a_blurred_noisy_frame_beside_an_electrode():
    """Through a 2 px PSF, with noise and a bright electrode just outside the region, the
    light of one frame is found to within 2.5 % of the contrast per phase (1.5 %): walls
    and the region's edge leak light, so fitted pixels keep away from both (before:
    19 %), the fit is in intensity, where both phases carry the same noise (in log
    intensity: 5.2 %), and the quadratic light gets a quadratic surface (degree 4
    always: 3.2 %)."""
    from napari_hamiltonian.imaging.illumination import illumination

    image, light, region = _vignetted(
        lambda y, x: 1 - 0.3 * (y ** 2 + x ** 2) / (2 * 149.5 ** 2), noise=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a light it follows: no warning
        assert _level_spread(light, illumination(image, mask=region), region) < 0.025


def test_flat_field_follows_an_off_centre_spot():
    """Block cross-validation takes the degree the light needs: under an off-centre
    Gaussian spot (44 % darker at the far corner) degree 4 (3.3 %), where degree 2
    would leave 14 % of the contrast."""
    from napari_hamiltonian.imaging.illumination import illumination

    image, light, region = _vignetted(
        lambda y, x: np.exp(-((y - 50) ** 2 + (x + 30) ** 2) / (2 * 250.0 ** 2)), noise=2)
    assert _level_spread(light, illumination(image, degree=2, mask=region), region) > 0.1
    assert _level_spread(light, illumination(image, mask=region), region) < 0.045


def test_flat_field_says_when_its_light_falls_to_nothing():
    """Under a cos^4 vignetting that darkens the corners by 89 %, a degree 4 surface
    falls to nothing inside the region: a warning says where the frames are wrong and
    what to do. The degree it chooses itself keeps clear of that."""
    image, _, region = _vignetted(
        lambda y, x: np.cos(np.arctan(np.hypot(y, x) / 150.0)) ** 4, noise=3)
    with pytest.warns(UserWarning, match="falls to nothing on .* region"):
        nh.flat_field(image, degree=4, mask=region)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (nh.flat_field(image, mask=region)[region] > 0).all()
    with pytest.raises(ValueError, match='"auto" or a whole number'):
        nh.flat_field(image, degree="quadratic")


def test_registration_recovers_pure_translations():
    pattern = ndimage.gaussian_filter(
        field_sweep_stack(size=300, fractions=(0.5,), seed=7)[0][0].astype(float), 1.5)
    true = np.array([[0, 0], [1.3, -2.6], [4.25, 0.5], [-3.1, 5.9]])
    frames = np.stack([ndimage.shift(pattern, d, order=3, mode="nearest")[30:270, 30:270]
                       for d in true])
    with warnings.catch_warnings():
        # the dark phase is at 0: its domains are dark in every frame, but they move
        # with the sample, so they are no aperture's surround
        warnings.simplefilter("error")
        aligned, shifts, covered = nh.register_stack(frames)
    np.testing.assert_allclose(shifts, true, atol=0.01)
    assert covered.sum() < covered.size and np.isfinite(aligned[:, covered]).all()
    again = nh.register_stack(frames, shifts=shifts)
    np.testing.assert_array_equal(again[0], aligned)
    with pytest.raises(ValueError, match="T >= 2"):
        nh.register_stack(frames[:1])


def test_registration_behind_an_aperture_with_a_textured_surround():
    """The aperture and its surround stay with the camera while the sample moves: with
    the mask, only the sample's pixels count, and the cubic spline and gradient of a
    pixel at the aperture's edge reach the surround (0.105 px before the mask was
    eroded for them; within 0.01 px)."""
    pattern = ndimage.gaussian_filter(
        field_sweep_stack(size=300, fractions=(0.5,), seed=7)[0][0].astype(float), 1.5)
    true = np.array([[0, 0], [1.3, -2.6], [4.25, 0.5], [-3.1, 5.9], [2.2, 2.7]])
    frames = np.stack([ndimage.shift(pattern, d, order=3, mode="nearest")[30:270, 30:270]
                       for d in true])
    yy, xx = np.mgrid[:240, :240]
    aperture = (yy - 120) ** 2 + (xx - 120) ** 2 < 90 ** 2
    dust = ndimage.gaussian_filter(np.random.default_rng(1).random((240, 240)), 3) * 8
    frames = np.where(aperture, frames, dust)
    shifts = nh.register_stack(frames, mask=aperture)[1]
    np.testing.assert_allclose(shifts, true, atol=0.01)


def test_the_prepared_path_registers_behind_an_aperture_with_the_region():
    """classify --register --mask (Preparation) compares only the aperture's inside: the
    dark rim, fixed to the camera, pulled the drift by 0.71 px without the region, and
    skimage's masked correlation (whole pixels, drawn to the rim) by 5.6 px with it; the
    aligned stack's region lies inside the aperture in every frame."""
    from napari_hamiltonian.imaging.drift import regions_in_frames
    from napari_hamiltonian.imaging.preparation import Preparation
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=12, field=240, max_drift=8, electrodes=0, seed=5)
    yy, xx = np.mgrid[:240, :240]
    disc = (yy - 120) ** 2 + (xx - 120) ** 2 < 110 ** 2
    raw = np.where(disc, d["raw"], 3).astype(np.uint8)
    with pytest.warns(UserWarning, match="dark in every frame .*mask="):
        nh.register_stack(raw)  # without the region: the rim stays, and it says so
    with pytest.warns(UserWarning, match="light is fitted to it too"):
        nh.flat_field(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, region, shifts = Preparation(register=True).apply(raw, disc)
    assert np.abs(shifts - d["shifts"]).max() < 0.2
    # the region is what every frame shows inside the aperture (the raw mask, which
    # does not move with the sample, left 3-13 windows a frame on the dark surround)
    assert not (regions_in_frames(region, d["shifts"]) & ~disc).any()


@pytest.mark.parametrize("seed", [0, 5])
def test_registration_of_a_sweep_whose_domains_grow(seed):
    """Domains switching between frames pulled the correlation peaks (0.40 and 0.42 px on
    these stacks); the least-squares refinement leaves them out: within 0.15 px."""
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=12, field=200, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing dark in every frame: no warning
        shifts = nh.register_stack(d["raw"])[1]
    assert np.abs(shifts - d["shifts"]).max() < 0.15


def test_png_jpeg_and_the_pixel_size_of_tiffs(tmp_path):
    from PIL import Image

    a = (np.random.default_rng(0).random((120, 130)) * 60000).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "k.png")
    np.testing.assert_array_equal(read_stack(tmp_path / "k.png").compute()[0], a)
    Image.fromarray((a >> 8).astype(np.uint8)).convert("RGB").save(tmp_path / "g.jpg",
                                                                    quality=100)
    assert read_stack(tmp_path / "g.jpg").shape == (1, 120, 130)
    colour = np.zeros((50, 50, 3), np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(tmp_path / "c.png")
    with pytest.raises(ValueError, match="RGB"):
        read_stack(tmp_path / "c.png")
    tifffile.imwrite(tmp_path / "ij.tif", a, imagej=True, resolution=(4.0, 4.0),
                     metadata={"unit": "um"})
    assert pixel_size_nm(tmp_path / "ij.tif") == pytest.approx(250.0)
    tifffile.imwrite(tmp_path / "o.ome.tif", a, metadata={"PhysicalSizeX": 0.05,
                                                          "PhysicalSizeXUnit": "µm"})
    assert pixel_size_nm(tmp_path / "o.ome.tif") == pytest.approx(50.0)
    tifffile.imwrite(tmp_path / "plain.tif", a)
    assert pixel_size_nm(tmp_path / "plain.tif") is None
    r = nh.classify_image(np.asarray(read_stack(tmp_path / "k.png")[0]), stride=30,
                          threshold="otsu")
    assert r.labels.shape == (1, 2)


def test_python_takes_the_resolution_in_nm_and_the_files_pixel_size(tmp_path):
    """Issue 28: the resolution (nm) and the pixel size (given, or the file's) pick the
    model in Python as in the CLI and the widget: 235.5 nm with 50 nm pixels is the
    2 px model."""
    from napari_hamiltonian.imaging.optics import Instrument, psf_sigma_from_resolution

    truth = nh.simulate.percolation(1, size=160, p=0.5927, seed=4)[0]
    grey = Instrument(2.0, noise=0.05).grey(truth, np.random.default_rng(0))
    tifffile.imwrite(tmp_path / "g.ome.tif", grey, metadata={"PhysicalSizeX": 0.05,
                                                             "PhysicalSizeXUnit": "µm"})
    fwhm = 2.0 * 2.3548200450309493 * 50.0
    assert psf_sigma_from_resolution(fwhm, 50.0) == pytest.approx(2.0)
    direct = nh.classify_image(grey, threshold="otsu", stride=30, psf_sigma=2.0)
    given = nh.classify_image(grey, threshold="otsu", stride=30, resolution_nm=fwhm,
                              pixel_size_nm=50.0)
    recorded = nh.classify_image(tmp_path / "g.ome.tif", threshold="otsu", stride=30,
                                 resolution_nm=fwhm)
    for r in (given, recorded):
        np.testing.assert_array_equal(r.labels, direct.labels)
        np.testing.assert_array_equal(r.logits, direct.logits)
    with pytest.raises(ValueError, match="no pixel size is known"):
        nh.classify_image(grey, threshold="otsu", resolution_nm=fwhm)
    with pytest.raises(ValueError, match="not both"):
        nh.classify_image(grey, threshold="otsu", resolution_nm=fwhm, pixel_size_nm=50.0,
                          psf_sigma=2.0)
    with pytest.raises(ValueError, match="pixel size must be a length"):
        nh.classify_image(grey, threshold="otsu", resolution_nm=fwhm, pixel_size_nm=-1.0)
    # a stack: the same, from an array with the pixel size or from the file's record
    for source, size in ((grey[None], 50.0), (tmp_path / "g.ome.tif", None)):
        lazy = nh.classify_stack(source, threshold="otsu", stride=30, resolution_nm=fwhm,
                                 pixel_size_nm=size)
        np.testing.assert_array_equal(lazy.frame(0).labels, direct.labels)
    with pytest.raises(ValueError, match="no pixel size is known"):
        nh.classify_stack(grey[None], threshold="otsu", resolution_nm=fwhm)


def test_the_command_line_reads_a_region(tmp_path, aperture, capsys):
    binary, grey, dark, mask = aperture
    tifffile.imwrite(tmp_path / "a.tif", dark.astype(np.float32))
    tifffile.imwrite(tmp_path / "m.tif", mask.astype(np.uint8))
    assert main(["classify", str(tmp_path / "a.tif"), "--threshold", "otsu", "--stride",
                 "10", "--mask", str(tmp_path / "m.tif"), "--out", str(tmp_path / "o")]) == 0
    folder = tmp_path / "o" / "a"
    inside = windows_inside(mask, mask.shape, 100, 10)
    labels = tifffile.imread(folder / "labels.tif").reshape(inside.shape)
    assert (labels[~inside] == 0).all() and (labels[inside] > 0).all()
    np.testing.assert_array_equal(tifffile.imread(folder / "region.tif") > 0, mask)
    assert "region_sha256" in json.loads((folder / "settings.json").read_text())
    tifffile.imwrite(tmp_path / "bad.tif", mask[:50].astype(np.uint8))
    assert main(["classify", str(tmp_path / "a.tif"), "--threshold", "otsu", "--mask",
                 str(tmp_path / "bad.tif"), "--out", str(tmp_path / "o2")]) == 2
    assert "mask has shape" in capsys.readouterr().err


def region_of(folder):
    return tifffile.imread(folder / "region.tif") > 0


def test_the_command_line_registers_and_flat_fields_a_raw_stack(tmp_path, capsys):
    """classify --register --flat-field --mask: the drift recorded, the region every
    frame covers within the user's, and the answer of the clean sweep."""
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=20, field=320, max_drift=8, seed=2)
    tifffile.imwrite(tmp_path / "raw.tif", d["raw"])
    sample = ~ndimage.binary_dilation(d["electrodes"], iterations=4)
    tifffile.imwrite(tmp_path / "sample.tif", sample.astype(np.uint8))
    common = ["--threshold", "switching", "--psf-sigma", "2", "--stride", "20"]
    assert main(["classify", str(tmp_path / "raw.tif"), *common, "--register",
                 "--flat-field", "--mask", str(tmp_path / "sample.tif"), "--keep-steps",
                 "--out", str(tmp_path / "o")]) == 0
    folder = tmp_path / "o" / "raw"
    # each step kept to check: the aligned, flat-fielded frames and their binarisation
    prepared, binary = (tifffile.imread(folder / f) for f in ("prepared.tif", "binary.tif"))
    assert prepared.shape == binary.shape == d["raw"].shape and prepared.dtype == np.float32
    inside = region_of(folder)
    # the grey frames, aligned and flat-fielded (it held the switching maps, 0 and 1)
    assert len(np.unique(prepared[:, inside])) > 100
    assert np.isnan(prepared[:, ~inside]).all()  # no extrapolated light to misread
    assert set(np.unique(binary)) <= {0, 1}
    fractions = binary[:, region_of(folder)].mean(1)
    assert fractions[0] < 0.3 and fractions[-1] > 0.7  # the sweep, insulator to metal
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["register"] and settings["flat_field"]
    shifts = np.loadtxt(folder / "shifts.csv", delimiter=",", skiprows=1)[:, 1:]
    np.testing.assert_allclose(shifts, d["shifts"], atol=0.6)
    region = tifffile.imread(folder / "region.tif") > 0
    assert not region[~sample].any() and 0.5 < region.mean() < sample.mean()
    labels = tifffile.imread(folder / "labels.tif")
    inside = windows_inside(region, region.shape, 100, 20)
    assert (labels[:, ~inside] == 0).all() and (labels[:, inside] > 0).all()
    # a strip a window fits, until the drift takes 8 px of it: refused after the
    # registration, before anything is written
    strip = np.zeros(sample.shape, np.uint8)
    strip[:, 100:204] = 1
    tifffile.imwrite(tmp_path / "strip.tif", strip)
    capsys.readouterr()
    assert main(["classify", str(tmp_path / "raw.tif"), *common, "--register",
                 "--mask", str(tmp_path / "strip.tif"), "--out", str(tmp_path / "o3")]) == 2
    assert "region every aligned frame covers" in capsys.readouterr().err
    assert not list((tmp_path / "o3").rglob("*.*"))


def test_a_region_without_a_whole_window_is_refused_in_words(aperture):
    binary, grey, dark, mask = aperture
    thin = np.zeros(mask.shape, bool)
    thin[20:220, 100:180] = True  # 80 px wide: no 100 x 100 window fits
    with pytest.raises(ValueError, match="no 100x100-pixel window"):
        nh.classify_image(grey, threshold="otsu", mask=thin)
    with pytest.raises(ValueError, match="no 100x100-pixel window"):
        nh.classify_stack(grey[None], threshold="otsu", mask=thin)


def test_paths_are_accepted_wherever_an_image_is(tmp_path):
    from PIL import Image

    binary = field_sweep_stack(size=150, fractions=(0.5,), seed=9)[0][0]
    grey = microscope_view(binary[None], seed=9)[0]
    Image.fromarray(grey).save(tmp_path / "kerr.png")
    from_file = nh.classify_image(tmp_path / "kerr.png", stride=25, threshold="otsu")
    direct = nh.classify_image(grey, stride=25, threshold="otsu")
    np.testing.assert_array_equal(from_file.labels, direct.labels)
    tifffile.imwrite(tmp_path / "s.tif", np.stack([grey, grey[::-1]]))
    lazy = nh.classify_stack(str(tmp_path / "s.tif"), stride=25, threshold="otsu")
    np.testing.assert_array_equal(lazy.frame(0).labels, direct.labels)
    one = nh.classify_image(tmp_path / "s.tif", stride=25, threshold="otsu", frame=1)
    assert one.labels.shape == direct.labels.shape


def test_the_resolution_in_nm_and_the_files_pixel_size_pick_the_model(tmp_path, capsys,
                                                                       aperture):
    from napari_hamiltonian.classifier.pretrained import SHIPPED

    binary, grey, dark, mask = aperture
    tifffile.imwrite(tmp_path / "ij.tif", grey.astype(np.uint8), imagej=True,
                     resolution=(10.0, 10.0), metadata={"unit": "um"})  # 100 nm pixels
    np.savetxt(tmp_path / "h.txt", [12.5])
    assert main(["classify", str(tmp_path / "ij.tif"), "--threshold", "otsu", "--stride",
                 "30", "--resolution", "471", "--temperatures", str(tmp_path / "h.txt"),
                 "--sweep", "applied field (mT)", "--out", str(tmp_path / "o")]) == 0
    assert "PSF sigma 2.00 px from the resolution 471 nm and the pixel size 100 nm" in \
        capsys.readouterr().out
    folder = tmp_path / "o" / "ij"
    assert json.loads((folder / "settings.json").read_text())["model_sha256"] == \
        SHIPPED[2.0][1]
    assert "applied field (mT)" in (folder / "fractions.csv").read_text().splitlines()[0]
    tifffile.imwrite(tmp_path / "plain.tif", grey.astype(np.uint8))
    assert main(["classify", str(tmp_path / "plain.tif"), "--threshold", "otsu",
                 "--resolution", "471", "--out", str(tmp_path / "p")]) == 2
    assert "no pixel size recorded in" in capsys.readouterr().err
    # issue 28: inputs at two magnifications, one call: each its own PSF and model
    tifffile.imwrite(tmp_path / "ij3.tif", grey.astype(np.uint8), imagej=True,
                     resolution=(1 / 0.0667, 1 / 0.0667), metadata={"unit": "um"})
    assert main(["classify", str(tmp_path / "ij.tif"), str(tmp_path / "ij3.tif"),
                 "--threshold", "otsu", "--stride", "30", "--resolution", "471",
                 "--out", str(tmp_path / "two")]) == 0
    said = capsys.readouterr().out
    assert "ij.tif: PSF sigma 2.00 px" in said and "ij3.tif: PSF sigma 3.00 px" in said
    for name, sigma in (("ij", 2.0), ("ij3", 3.0)):
        settings = json.loads((tmp_path / "two" / name / "settings.json").read_text())
        assert settings["model_sha256"] == SHIPPED[sigma][1]
        assert settings["model"]["psf_sigma"] == sigma


def test_phase_levels_from_reference_frames_of_a_sweep(tmp_path, capsys):
    binary, _ = field_sweep_stack(size=200, fractions=(0.02, 0.5, 0.98), seed=10)
    grey = microscope_view(binary, seed=10)
    reading = nh.Reading.from_frames(grey, 0, 2)
    ins, met = reading.levels
    assert ins == pytest.approx(50, abs=6) and met == pytest.approx(200, abs=6)
    with pytest.raises(ValueError, match="frame numbers"):
        nh.Reading.from_frames(grey, 0, 7)
    tifffile.imwrite(tmp_path / "s.tif", grey, photometric="minisblack")
    assert main(["classify", str(tmp_path / "s.tif"), "--levels-from-frames", "0", "2",
                 "--stride", "50", "--out", str(tmp_path / "o")]) == 0
    assert "phase levels" in capsys.readouterr().out
    settings = json.loads((tmp_path / "o" / "s" / "settings.json").read_text())
    assert settings["levels"] == pytest.approx([ins, met])


def test_psf_and_levels_per_input_in_one_call(tmp_path, capsys):
    """Two cameras, one call: each input read with its own PSF and phase levels, as two
    calls would read them; a count that matches neither one nor the inputs is refused."""
    from napari_hamiltonian.classifier.pretrained import SHIPPED, SHIPPED_GREY

    binary, _ = field_sweep_stack(size=160, fractions=(0.5,), seed=11)
    a = microscope_view(binary, seed=11)  # levels 50 / 200
    tifffile.imwrite(tmp_path / "a.tif", a, photometric="minisblack")
    tifffile.imwrite(tmp_path / "b.tif", (a.astype(np.float64) * 2 + 100).astype(np.uint16),
                     photometric="minisblack")
    inputs = [str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]
    common = ["--stride", "20", "--psf-sigma", "2", "3"]
    assert main(["classify", *inputs, *common, "--levels", "50", "200", "--levels",
                 "200", "500", "--out", str(tmp_path / "o")]) == 0
    for name, sigma, levels in (("a", 2.0, [50, 200]), ("b", 3.0, [200, 500])):
        settings = json.loads((tmp_path / "o" / name / "settings.json").read_text())
        assert settings["model_sha256"] == SHIPPED_GREY[sigma][1]
        assert settings["levels"] == pytest.approx(levels)
    # the same as a call for b alone
    assert main(["classify", inputs[1], "--stride", "20", "--psf-sigma", "3", "--levels",
                 "200", "500", "--out", str(tmp_path / "alone")]) == 0
    both = tifffile.imread(tmp_path / "o" / "b" / "labels.tif")
    assert np.array_equal(both, tifffile.imread(tmp_path / "alone" / "b" / "labels.tif"))
    # one --psf-sigma for both, binary by Otsu
    assert main(["classify", *inputs, "--stride", "20", "--psf-sigma", "2", "--threshold",
                 "otsu", "--out", str(tmp_path / "one")]) == 0
    for name in ("a", "b"):
        settings = json.loads((tmp_path / "one" / name / "settings.json").read_text())
        assert settings["model_sha256"] == SHIPPED[2.0][1]
    capsys.readouterr()
    for extra, match in ((["--psf-sigma", "1", "2", "3"], "--psf-sigma was given 3 times "
                          "for 2 inputs"),
                         (["--levels", "1", "2", "--levels", "3", "4", "--levels", "5", "6"],
                          "--levels was given 3 times for 2 inputs"),
                         (["--psf-sigma", "1", "2", "--resolution", "400"], "not both")):
        assert main(["classify", *inputs, *extra, "--out", str(tmp_path / "x")]) == 2
        assert match in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_an_automatic_threshold_that_splits_off_something_else_is_said(aperture):
    """Otsu over an image with a burnt-in bright scale bar splits the bar from the
    sample and leaves the sample one phase: a warning names the likely cause and the
    fixes."""
    binary, grey, dark, mask = aperture
    with_gold = grey.copy()
    with_gold[:, :8] = 255 * 4.0  # a thin, very bright bar
    with pytest.warns(UserWarning, match="one phase: the threshold probably split"):
        nh.classify_image(with_gold, stride=40, threshold="otsu")
    stack = np.stack([with_gold * 0.9, with_gold])
    with pytest.warns(UserWarning, match="one Otsu threshold for the stack"):
        nh.Reading("otsu-stack").prepare_stack(stack)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sample alone: no warning
        nh.Reading("otsu").binary(grey)
        nh.classify_image(grey, stride=40, threshold="otsu")


def test_a_run_that_failed_before_any_frame_does_not_block_the_retry(tmp_path, aperture):
    binary, grey, dark, mask = aperture
    tifffile.imwrite(tmp_path / "a.tif", grey.astype(np.uint8))
    folder = tmp_path / "o" / "a"
    folder.mkdir(parents=True)
    (folder / "settings.json").write_text(json.dumps({"stride": 99}))  # and no frames
    assert main(["classify", str(tmp_path / "a.tif"), "--threshold", "otsu", "--stride",
                 "40", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((folder / "settings.json").read_text())["stride"] == 40


def test_lost_work_guards_card_over_model_and_old_temperatures(tmp_path, capsys, aperture):
    """`train --out X --card X` is refused before training; `--overwrite` without
    temperatures drops the earlier run's axis; geometry refuses a negative PSF."""
    assert main(["train", "d.npz", "--out", str(tmp_path / "m.md"), "--card",
                 str(tmp_path / "m.md")]) == 2
    assert "the card would overwrite the model" in capsys.readouterr().err
    binary, grey, dark, mask = aperture
    tifffile.imwrite(tmp_path / "a.tif", np.stack([grey, grey[::-1]]).astype(np.uint8),
                     photometric="minisblack")
    np.savetxt(tmp_path / "t.txt", [300.0, 310.0])
    base = ["classify", str(tmp_path / "a.tif"), "--threshold", "otsu", "--stride", "70",
            "--out", str(tmp_path / "o")]
    assert main(base + ["--temperatures", str(tmp_path / "t.txt")]) == 0
    assert main(base + ["--overwrite"]) == 0
    header = (tmp_path / "o" / "a" / "fractions.csv").read_text().splitlines()[0]
    assert "temperature" not in header
    assert main(["geometry", str(tmp_path / "a.tif"), "--threshold", "otsu",
                 "--psf-sigma", "-2"]) == 2
    assert "psf_sigma must be a number >= 0" in capsys.readouterr().err


def test_the_command_line_estimates_each_inputs_psf(tmp_path, capsys):
    """--psf-sigma auto: each input's PSF from its frames as recorded (the median over
    frames across the stack), printed, and the shipped model of that resolution read
    it; a sharp binary stack gets the lattice-scale model, in words."""
    from napari_hamiltonian.samples import raw_microscope_stack

    d = raw_microscope_stack(n_frames=8, field=200, max_drift=6, electrodes=0, seed=1)
    tifffile.imwrite(tmp_path / "raw.tif", d["raw"])
    sharp = field_sweep_stack(size=200, fractions=(0.3, 0.4, 0.5, 0.7), seed=1)[0]
    tifffile.imwrite(tmp_path / "sharp.tif", sharp.astype(np.uint8), photometric="minisblack")
    assert main(["classify", str(tmp_path / "raw.tif"), str(tmp_path / "sharp.tif"),
                 "--psf-sigma", "auto", "--threshold", "otsu-stack", "--stride", "50",
                 "--out", str(tmp_path / "o")]) == 0
    said = capsys.readouterr().out
    sigma = float(said.split("raw.tif: PSF sigma ")[1].split(" px")[0])
    assert 1.7 < sigma < 2.3
    assert "sharp.tif: PSF sigma 0.00 px estimated" in said and "lattice-scale" in said
    for name, psf in (("raw", 2.0), ("sharp", 0.0)):
        settings = json.loads((tmp_path / "o" / name / "settings.json").read_text())
        assert settings["model"]["psf_sigma"] == psf
    tifffile.imwrite(tmp_path / "small.tif", np.ones((50, 50), np.uint8))
    assert main(["classify", str(tmp_path / "raw.tif"), "--psf-sigma", "auto", "--mask",
                 str(tmp_path / "small.tif"), "--out", str(tmp_path / "o2")]) == 2
    assert "raw.tif: mask has shape (50, 50)" in capsys.readouterr().err
    model = str(tmp_path / "o" / "raw" / "settings.json")  # any path: refused first
    assert main(["classify", str(tmp_path / "raw.tif"), "--psf-sigma", "auto", "--model",
                 model, "--out", str(tmp_path / "o3")]) == 2
    assert "--psf-sigma auto picks the shipped model" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists()
