import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import deltanet as dn
from deltanet import images
from deltanet.errors import DataError
from deltanet.images import load_array, load_image, mnist_style


@pytest.fixture(scope="module")
def seven():
    """MNIST's first test digit (a 7), 5× enlarged, as grey levels in [0, 1]."""
    return np.kron(dn.datasets.load_mnist().X_test[0].reshape(28, 28), np.ones((5, 5)))


def correlation(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_a_16_bit_png_keeps_its_grey_levels(seven, tmp_path):
    Image.fromarray((255 * seven).astype(np.uint8)).save(tmp_path / "8.png")
    Image.fromarray((65535 * seven).astype(np.uint16)).save(tmp_path / "16.png")
    with Image.open(tmp_path / "16.png") as img:
        assert img.mode.startswith("I")  # Pillow reads it as 16-bit grey
    eight, sixteen = load_image(tmp_path / "8.png"), load_image(tmp_path / "16.png")
    np.testing.assert_allclose(sixteen, eight, atol=0.02)


def test_an_exif_rotated_jpeg_is_read_upright(seven, tmp_path):
    upright = Image.fromarray((255 * (1 - seven)).astype(np.uint8))
    # a camera held sideways stores the picture turned and says so in the EXIF
    # orientation (6: turn it 90° clockwise to show it)
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.rotate(90, expand=True).save(tmp_path / "photo.jpg", quality=95, exif=exif)
    upright.save(tmp_path / "upright.png")
    want = load_image(tmp_path / "upright.png")
    got = load_image(tmp_path / "photo.jpg")
    assert correlation(got, want) > 0.95
    turned = load_image_without_exif(tmp_path / "photo.jpg", tmp_path / "turned.png")
    assert correlation(turned, want) < 0.8  # what ignoring the EXIF would have read


def load_image_without_exif(jpeg, png):
    with Image.open(jpeg) as img:
        img.save(png)  # PNG keeps no orientation
    return load_image(png)


def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(DataError, match="40×30 pixels; pictures of up to 1,000 pixels"):
        load_image(tmp_path / "big.png")


def test_a_blank_picture_is_a_clear_error(tmp_path):
    Image.fromarray(np.full((20, 20), 255, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(DataError, match=r"blank\.png: the image is blank"):
        load_image(tmp_path / "blank.png")
    with pytest.raises(DataError, match="2-D"):
        mnist_style(np.zeros(5))


@pytest.mark.parametrize(
    ("array", "rows"),
    [
        (np.zeros(784, np.uint8), 1),
        (np.zeros((28, 28), np.float64), 1),
        (np.zeros((5, 784), np.int16), 5),
        (np.asfortranarray(np.zeros((3, 28, 28), np.float32)), 3),
    ],
)
def test_npy_shapes_and_types(tmp_path, array, rows):
    np.save(tmp_path / "a.npy", array)
    X = load_array(tmp_path / "a.npy")
    assert X.shape == (rows, 784) and X.dtype == np.float32


def test_npy_bytes_are_scaled(tmp_path):
    np.save(tmp_path / "a.npy", np.full(784, 255, np.uint8))
    assert load_array(tmp_path / "a.npy").max() == 1.0


def npy(header_shape, dtype="<f4", data=b""):
    buf = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": header_shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a plain .npy array"),
        (b"PK\x03\x04 a zip file", "not a plain .npy array"),
        (npy((10**12, 784)), "the header says (1000000000000, 784) float32"),
        (npy((2, 784), data=b"\x00" * 100), "file holds 100"),
        (npy((784,), "<c8"), "complex numbers"),
        (npy((784,), "|b1"), "expected a numeric array"),
        (npy((3, 100)), "shape (3, 100)"),
    ],
)
def test_npy_headers_are_checked_before_the_data_is_read(tmp_path, content, message):
    (tmp_path / "x.npy").write_bytes(content)
    with pytest.raises(DataError) as refusal:
        load_array(tmp_path / "x.npy")
    assert message in str(refusal.value)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((0, 784), np.float32), r"holds no digits \(0 rows\)"),
        (np.full(784, -1.0, np.float32), "values from -1 to -1"),
        (np.full(784, 1000.0, np.float32), "0..1 or 0..255 grey levels"),
    ],
)
def test_npy_values_that_are_no_digits_are_refused(tmp_path, array, message):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(DataError, match=message):
        load_array(tmp_path / "a.npy")


# ---------------------------------------------------------------------- bytes (deltanet serve)


def png_bytes(array, **save):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=save.pop("format", "PNG"), **save)
    return buf.getvalue()


def test_bytes_make_the_same_input_as_the_file(seven, tmp_path):
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg")):
        data = png_bytes((255 * (1 - seven)).astype(np.uint8), format=fmt)
        (tmp_path / f"seven.{suffix}").write_bytes(data)
        np.testing.assert_array_equal(
            images.read_digit(data), load_image(tmp_path / f"seven.{suffix}")
        )


def test_bytes_of_a_decompression_bomb_are_refused_from_the_header():
    # 64 million pixels of paper: 64 KB of PNG, 512 MB as float64 grey levels
    bomb = png_bytes(np.zeros((8000, 8000), np.uint8))
    assert len(bomb) < 2**17
    with pytest.raises(images.PictureTooLarge, match="8000×8000 pixels; pictures of up to"):
        images.read_digit(bomb, max_pixels=2048 * 2048)


def test_bytes_in_another_format_are_not_a_picture_here(seven):
    bmp = png_bytes((255 * seven).astype(np.uint8), format="BMP")
    with pytest.raises(images.NotAPicture, match="the picture: not an image that Pillow can read"):
        images.read_digit(bmp)
    assert images.read_digit(bmp, formats=["BMP"]).shape == (784,)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n", b"garbage" * 100, "truncated"],
)
def test_bytes_that_are_no_picture_are_one_clear_error(seven, data):
    if data == "truncated":
        data = png_bytes((255 * seven).astype(np.uint8))[:300]
    with pytest.raises(images.NotAPicture) as err:
        images.read_digit(data)
    assert "\n" not in str(err.value) and "0x" not in str(err.value)  # no object address


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_pictures_are_data_errors_never_crashes(data):
    # a real PNG and JPEG with bytes changed, cut or inserted anywhere
    base = data.draw(st.sampled_from(_SAMPLES))
    edits = data.draw(
        st.lists(st.tuples(st.integers(0, len(base) - 1), st.binary(max_size=4)), max_size=6)
    )
    damaged = bytearray(base)
    for at, new in edits:
        damaged[at : at + len(new)] = new
    if data.draw(st.booleans()):
        damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    try:
        x = images.read_digit(bytes(damaged))
    except DataError:
        return
    assert x.shape == (784,) and np.isfinite(x).all()


def _samples():
    rng = np.random.default_rng(0)
    digit = (255 * rng.random((40, 30))).astype(np.uint8)
    return [png_bytes(digit), png_bytes(digit, format="JPEG"), png_bytes(digit, optimize=True)]


_SAMPLES = _samples()
