import numpy as np
import pytest
from helpers import one_line_error, refused, run_cli
from PIL import Image

import deltanet as dn
from deltanet.cli import main


def test_predict_png_and_npy(trained, tmp_path):
    X, y = dn.datasets.load_mnist().X_test[:3], dn.datasets.load_mnist().y_test[:3]
    big = np.kron(X[0].reshape(28, 28), np.ones((5, 5)))  # 140×140
    Image.fromarray((255 * (1 - big)).astype(np.uint8)).save(tmp_path / "digit.png")  # dark ink
    np.save(tmp_path / "digits.npy", (X * 255).astype(np.uint8).reshape(3, 28, 28))
    result = run_cli(
        "predict", trained / "model.safetensors", tmp_path / "digit.png", tmp_path / "digits.npy"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"{tmp_path / 'digit.png'}: {y[0]}")
    assert lines[1].startswith(f"{tmp_path / 'digits.npy'}[0]: ")
    assert lines[0].count(": ") == 4  # the file and three class: probability pairs
    assert "(probabilities " in lines[0]


def test_squared_error_outputs_are_called_scores(tmp_path, capsys):
    net = dn.MLP([784, 5, 10], loss="squared_error")
    net.save(tmp_path / "se.safetensors")
    np.save(tmp_path / "d.npy", np.zeros(784, np.float32))
    assert main(["predict", str(tmp_path / "se.safetensors"), str(tmp_path / "d.npy")]) == 0
    out = capsys.readouterr().out
    assert "(scores " in out and "probabilities" not in out


def test_predict_on_a_checkpoint_suggests_the_model(trained):
    one_line_error(
        run_cli("predict", trained / "checkpoint.safetensors", "x.png"),
        f"the model to use is {trained / 'model.safetensors'}",
    )


def test_predict_a_transparent_png(trained, tmp_path):
    digit = dn.datasets.load_mnist().X_test[0].reshape(28, 28)
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = (255 * digit).astype(np.uint8)  # black ink, transparent paper
    Image.fromarray(rgba, "RGBA").save(tmp_path / "ink.png")
    result = run_cli("predict", trained / "model.safetensors", tmp_path / "ink.png")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{tmp_path / 'ink.png'}: 7")


def test_predict_refuses_a_decompression_bomb_in_one_line(trained, tmp_path, monkeypatch, capsys):
    # Pillow refuses images over 2 × MAX_IMAGE_PIXELS; lowering the limit makes a small
    # PNG stand in for a huge one
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    code = main(["predict", str(trained / "model.safetensors"), str(tmp_path / "big.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert "not an image that Pillow can read" in err and len(err.strip().splitlines()) == 1


def npy_header_claiming(rows):
    """A .npy file whose header announces ``rows`` digits, with no data behind it."""
    import io

    buf = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, 784)}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "garbage.png").write_bytes(b"\x00" * 64)
    (root / "empty.npy").write_bytes(b"")
    (root / "huge.npy").write_bytes(npy_header_claiming(10**12))
    np.save(root / "nan.npy", np.full(784, np.nan))
    np.save(root / "wrong.npy", np.zeros((3, 100)))
    np.save(root / "complex.npy", np.zeros(784, np.complex64))
    np.save(root / "objects.npy", np.array([None] * 784, dtype=object), allow_pickle=True)
    return root


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nan.npy", "NaN"),
        ("wrong.npy", "shape (3, 100)"),
        ("garbage.png", "not an image"),
        ("empty.npy", "not a plain .npy array"),
        ("huge.npy", "the header says (1000000000000, 784) float32"),
        ("complex.npy", "complex numbers"),
        ("objects.npy", "Python objects"),
        ("missing.png", "no such file"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(trained, bad_files, name, message, capsys):
    refused(capsys, ["predict", trained / "model.safetensors", bad_files / name], message)
