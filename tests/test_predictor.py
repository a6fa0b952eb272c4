"""Predictor: what the server answers, tested without the web."""

import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import FEATURES, TREES
from PIL import Image

import deltanet as dn
from deltanet.errors import DataError
from deltanet.images import NotAPicture, PictureTooLarge, read_digit
from deltanet.model import Model
from deltanet.predictor import MalformedInput, Predictor, UnsupportedInput


def png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def mnist():
    return dn.datasets.load_mnist()


@pytest.fixture(scope="module")
def digits():
    """A random (untrained) digit model: what is computed, not how well."""
    return Predictor(Model(dn.MLP([784, 16, 10], seed=0)))


def drawing(x):
    """An MNIST digit as the page sends it: 280×280, dark ink on white."""
    return png((255 * (1 - np.kron(x.reshape(28, 28), np.ones((10, 10))))).astype(np.uint8))


def test_a_picture_is_answered_as_deltanet_predict_reads_it(digits, mnist):
    data = drawing(mnist.X_test[0])
    answer = digits.picture(data)
    x = read_digit(data)
    P = digits.model.predict_proba(x[None])[0]
    assert answer.labels == tuple(np.argsort(-P, kind="stable"))
    np.testing.assert_array_equal(answer.values, np.sort(P)[::-1])
    np.testing.assert_array_equal(answer.input, x.reshape(28, 28))
    out = answer.to_json(with_input=True)
    assert out["label"] == answer.labels[0] and out["output"] == "probabilities"
    assert [c["label"] for c in out["classes"]] == list(answer.labels)
    assert np.array(out["input"]).shape == (28, 28)
    assert "input" not in answer.to_json()


def test_a_trained_model_reads_drawn_digits(digit_model, mnist):
    from deltanet.modelfile import read_model

    predictor = Predictor(*read_model(digit_model))
    labels = [predictor.picture(drawing(x)).labels[0] for x in mnist.X_test[:50]]
    assert np.mean(np.array(labels) == mnist.y_test[:50]) >= 0.9
    assert 0 < predictor.describe()["test_error"] < 0.1


def test_a_row_is_answered_with_the_models_labels(tabular):
    _, model, X, y = tabular
    predictor = Predictor(model)
    answer = predictor.row(json.dumps(X[0].tolist()).encode())
    P = model.predict_proba(X[:1])[0]
    assert answer.labels[0] == model.predict(X[:1])[0] == TREES[y[0]]
    assert set(answer.labels) == set(TREES) and answer.input is None
    np.testing.assert_allclose(answer.values, np.sort(P)[::-1])
    assert answer.to_json()["classes"][0] == {"label": TREES[y[0]], "probability": P.max()}


def test_a_squared_error_model_answers_scores():
    net = dn.MLP([3, 4, 2], loss="squared_error", output="linear", seed=0)
    answer = Predictor(Model(net)).row(b"[1, 2, 3]")
    assert answer.to_json()["output"] == "scores"
    assert set(answer.to_json()["classes"][0]) == {"label", "score"}


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"[1, 2", MalformedInput, "the body is not JSON"),
        (b"\xff\xfe[1]", MalformedInput, "the body is not JSON"),
        (b"[NaN, 1, 2, 3]", MalformedInput, "NaN is not a number"),
        (b"[Infinity, 1, 2, 3]", MalformedInput, "Infinity is not a number"),
        (b"[1e999, 1, 2, 3]", DataError, "item 0 is not a finite number"),
        (b"[1, 2, 3, " + b"9" * 400 + b"]", DataError, "item 3 is not a finite number"),
        (b"[1, 2, 3, " + b"9" * 5000 + b"]", MalformedInput, "the body is not JSON"),
        (b"[1, 2, 3]", DataError, "expected a JSON array of 4 numbers, got 3 items"),
        (b'{"x": [1, 2, 3, 4]}', DataError, "got a JSON object"),
        (b'[1, 2, "3", 4]', DataError, "item 2 is a JSON string, not a number"),
        (b"[1, 2, true, 4]", DataError, "item 2 is a JSON boolean"),
        (b"[1, 2, [3], 4]", DataError, "item 2 is a JSON array"),
        (b"[1, 2, null, 4]", DataError, "item 2 is a JSON null"),
        (b"[" * 100_000 + b"]" * 100_000, MalformedInput, "the body is not JSON"),
        (b"[1, 2, 3, 1e300]", DataError, "numbers too large for this float32 network"),
    ],
)
def test_rows_that_are_not_rows_are_clear_errors(tabular, body, error, message):
    _, model, *_ = tabular
    with pytest.raises(error, match=message) as err:
        Predictor(model).row(body)
    assert "\n" not in str(err.value)


def test_a_model_of_features_takes_no_pictures(tabular, mnist):
    _, model, *_ = tabular
    with pytest.raises(UnsupportedInput, match="this model takes rows of 4 numbers"):
        Predictor(model).picture(drawing(mnist.X_test[0]))


def test_pictures_are_bounded_and_checked(digits):
    with pytest.raises(PictureTooLarge, match="2049×2048 pixels"):
        digits.picture(png(np.zeros((2048, 2049), np.uint8)))
    with pytest.raises(NotAPicture):
        digits.picture(b"GIF89a not really")
    with pytest.raises(DataError, match="the picture: the image is blank"):
        digits.picture(png(np.full((50, 50), 255, np.uint8)))


def test_what_the_model_is(tabular):
    path, model, *_ = tabular
    from deltanet.modelfile import read_model

    about = Predictor(*read_model(path)).describe()
    assert about["name"] == "4-16-3 tanh" and about["classes"] == list(TREES)
    assert about["input"] == {
        "kind": "features",
        "features": 4,
        "shape": None,
        "names": list(FEATURES),
        "standardized": True,
    }
    assert about["test_error"] == 0.05 and about["output"] == "probabilities"
    assert about["architecture"] == model.net.to_config()
    json.dumps(about)  # all of it is JSON


@pytest.mark.parametrize(
    "training",
    [{}, {"metrics": "x"}, {"metrics": {"test_error": 7}}, {"metrics": {"test_error": True}}],
)
def test_a_test_error_that_makes_no_sense_is_not_shown(training):
    assert Predictor(Model(dn.MLP([3, 2])), training).test_error is None


def test_many_threads_at_once_get_their_own_answers(digits, mnist):
    # pictures and rows interleaved from 8 threads: every answer is the one a lone call gives
    bodies = [drawing(x) for x in mnist.X_test[:24]]
    rows = [json.dumps(x.tolist()).encode() for x in mnist.X_test[24:48]]
    jobs = [(digits.picture, b) for b in bodies] + [(digits.row, r) for r in rows]
    alone = [task(body).values for task, body in jobs]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda job: job[0](job[1]).values, jobs * 4))
    for i, values in enumerate(together):
        np.testing.assert_array_equal(values, alone[i % len(jobs)])
