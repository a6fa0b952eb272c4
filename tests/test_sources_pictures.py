import numpy as np
import pytest
from PIL import Image

from deltanet.errors import DataError
from deltanet.sources.pictures import load_pictures

RNG = np.random.default_rng(0)


def folder(root, sizes, mode="L", per_class=5, classes=("cat", "dog")):
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = sizes[i % len(sizes)]
            Image.new(mode, (w, h), 40 if name == "cat" else 200).save(root / name / f"{i}.png")
    return root


def load(root, **options):
    kw = {"channels": None, "image_size": None, "test_size": 0.2, "rng": RNG, **options}
    return load_pictures(str(root), **kw)


def test_class_folders_sizes_and_channels(tmp_path):
    root = folder(tmp_path / "p", [(8, 6), (8, 6), (10, 10)])  # most are 8 wide, 6 high
    data = load(root)
    assert data.classes == ("cat", "dog") and data.input_shape == (6, 8)
    assert data.X_train.shape == (8, 48) and data.X_test.shape == (2, 48)
    assert 0 <= data.X_train.min() and data.X_train.max() <= 1 and data.kind == "pictures"
    rgb = load(root, channels=3, image_size=(4, 5))
    assert rgb.input_shape == (4, 5, 3) and rgb.n_features == 60
    colour = folder(tmp_path / "c", [(8, 8)], mode="RGB")
    assert load(colour).input_shape == (8, 8, 3)  # kept in colour when they are


def test_train_and_test_folders(tmp_path):
    folder(tmp_path / "p" / "train", [(5, 5)], per_class=4)
    folder(tmp_path / "p" / "test", [(5, 5)], per_class=2)
    data = load(tmp_path / "p")
    assert len(data.X_train) == 8 and len(data.X_test) == 4
    np.testing.assert_array_equal(data.y_test, [0, 0, 1, 1])


def test_a_rotated_jpeg_is_read_upright(tmp_path):
    (tmp_path / "p" / "a").mkdir(parents=True)
    (tmp_path / "p" / "b").mkdir()
    wide = np.zeros((4, 12), np.uint8)
    wide[:, :6] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    for name in ("a", "b"):
        for i in range(3):
            Image.fromarray(wide).save(tmp_path / "p" / name / f"{i}.jpg", exif=exif, quality=95)
    data = load(tmp_path / "p", test_size=0.34)
    assert data.input_shape == (12, 4)  # stored 12 wide, shown 12 high
    picture = data.X_train[0].reshape(12, 4)
    assert picture[:5].mean() > 0.8 and picture[-5:].mean() < 0.2  # white on top


def test_a_16_bit_png_keeps_its_grey_levels(tmp_path):
    for name, level in (("dark", 4096), ("light", 60000)):
        (tmp_path / "p" / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((4, 4), level, np.uint16)).save(
                tmp_path / "p" / name / f"{i}.png"
            )
    data = load(tmp_path / "p", test_size=0.34)
    levels = sorted({round(float(v), 3) for v in np.unique(data.X_train)})
    assert levels == [round(4096 / 65535, 3), round(60000 / 65535, 3)]


def test_folders_without_pictures(tmp_path):
    (tmp_path / "empty" / "cat").mkdir(parents=True)
    with pytest.raises(DataError, match="no pictures"):
        load(tmp_path / "empty")
    folder(tmp_path / "loose", [(4, 4)])
    Image.new("L", (4, 4)).save(tmp_path / "flat.png")
    (tmp_path / "flat").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(DataError, match="no class folders \\(pictures lie directly in it"):
        load(tmp_path / "flat")
    (tmp_path / "loose" / "bird").mkdir()
    with pytest.raises(DataError, match="loose/bird: no pictures"):
        load(tmp_path / "loose")


def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    import deltanet.images

    folder(tmp_path / "p", [(30, 30)])
    monkeypatch.setattr(deltanet.images, "MAX_PIXELS", 100)
    with pytest.raises(DataError, match="30×30 pixels; pictures of up to 100 pixels"):
        load(tmp_path / "p")
