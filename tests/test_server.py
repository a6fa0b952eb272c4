"""The web app: the JSON API with Starlette's TestClient, and schemathesis against its
OpenAPI document."""

import io
import json

import numpy as np
import pytest
from helpers import TREES
from hypothesis import HealthCheck, settings
from PIL import Image

import deltanet as dn
from deltanet.limits import MAX_REQUEST_BYTES
from deltanet.model import Model

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from fastapi.testclient import TestClient  # noqa: E402

from deltanet.predictor import Predictor  # noqa: E402
from deltanet.server import create_app  # noqa: E402


def png(array, fmt="PNG"):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def mnist():
    return dn.datasets.load_mnist()


@pytest.fixture(scope="module")
def client(digit_model):
    from deltanet.modelfile import read_model

    with TestClient(create_app(Predictor(*read_model(digit_model)))) as c:
        yield c


@pytest.fixture(scope="module")
def trees(tabular):
    path, _, X, y = tabular
    from deltanet.modelfile import read_model

    with TestClient(create_app(Predictor(*read_model(path)))) as c:
        yield c, X, y


def drawing(x, fmt="PNG"):
    return png((255 * (1 - np.kron(x.reshape(28, 28), np.ones((10, 10))))).astype(np.uint8), fmt)


def one_line_error(response, status, message):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]
    assert "\n" not in response.text and "Traceback" not in response.text


# ---------------------------------------------------------------------- answers


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_picture_gets_its_digit(client, mnist, fmt):
    r = client.post(
        "/api/predict",
        content=drawing(mnist.X_test[0], fmt),
        headers={"Content-Type": f"image/{fmt.lower()}"},
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["label"] == mnist.y_test[0] == answer["classes"][0]["label"]
    assert len(answer["classes"]) == 10 and answer["output"] == "probabilities"
    probabilities = [c["probability"] for c in answer["classes"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert abs(sum(probabilities) - 1) < 1e-5 and "input" not in answer


def test_the_input_the_network_saw_on_request(client, mnist):
    data = drawing(mnist.X_test[1])
    r = client.post(
        "/api/predict?with_input=true", content=data, headers={"Content-Type": "image/png"}
    )
    seen = np.array(r.json()["input"])
    assert seen.shape == (28, 28)
    np.testing.assert_allclose(seen, dn.images.read_digit(data).reshape(28, 28), atol=1e-4)


def test_a_json_row_of_784_numbers(client, mnist):
    r = client.post("/api/predict", json=mnist.X_test[2].tolist())
    assert r.status_code == 200 and r.json()["label"] == mnist.y_test[2]


def test_a_tabular_model_answers_with_its_class_names(trees):
    c, X, y = trees
    r = client_post_row(c, X[5])
    assert r.status_code == 200 and r.json()["label"] == TREES[y[5]]
    assert {e["label"] for e in r.json()["classes"]} == set(TREES)


def client_post_row(c, row):
    return c.post(
        "/api/predict",
        content=json.dumps(row.tolist()),
        headers={"Content-Type": "application/json"},
    )


def test_model_and_health(client):
    about = client.get("/api/model").json()
    assert about["architecture"]["layers"] == [784, 64, 10]
    assert about["classes"] == list(range(10)) and 0 < about["test_error"] < 0.1
    assert about["input"]["kind"] == "digit"
    assert client.get("/healthz").json() == {"status": "ok"}


# ---------------------------------------------------------------------- refusals


def test_wrong_content_types_are_415(client, trees, mnist):
    one_line_error(
        client.post("/api/predict", content=b"7", headers={"Content-Type": "text/plain"}),
        415,
        "content type 'text/plain': send application/json or image/png or image/jpeg",
    )
    one_line_error(client.post("/api/predict", content=b"7"), 415, "content type '(none)'")
    c, *_ = trees
    one_line_error(
        c.post(
            "/api/predict", content=drawing(mnist.X_test[0]), headers={"Content-Type": "image/png"}
        ),
        415,
        "send application/json",
    )


def test_a_body_over_1_mb_is_413_by_its_length_or_as_it_arrives(client):
    big = b"[" + b"0," * (MAX_REQUEST_BYTES // 2) + b"0]"
    one_line_error(
        client.post("/api/predict", content=big, headers={"Content-Type": "application/json"}),
        413,
        "the body is over 1,048,576 bytes",
    )

    def chunks():  # no Content-Length: sent chunked, counted as it comes
        for _ in range(20):
            yield b"0" * 100_000

    one_line_error(
        client.post("/api/predict", content=chunks(), headers={"Content-Type": "image/png"}),
        413,
        "the body is over",
    )


def test_a_decompression_bomb_is_413_before_decoding(client):
    bomb = png(np.zeros((8000, 8000), np.uint8))  # 64 million pixels in 64 KB
    one_line_error(
        client.post("/api/predict", content=bomb, headers={"Content-Type": "image/png"}),
        413,
        "8000×8000 pixels; pictures of up to 4,194,304 pixels are read",
    )


@pytest.mark.parametrize(
    ("body", "kind", "status", "message"),
    [
        (b"not a picture", "image/png", 400, "not an image that Pillow can read"),
        (b"", "image/jpeg", 400, "not an image that Pillow can read"),
        (b"[0.5, 0.5", "application/json", 400, "the body is not JSON"),
        (b"[" + b"NaN," * 783 + b"NaN]", "application/json", 400, "NaN is not a number"),
        (b"[1, 2, 3]", "application/json", 422, "expected a JSON array of 784 numbers, got 3"),
        (b"[" + b"0, " * 783 + b"1e999]", "application/json", 422, "item 783 is not a finite"),
    ],
)
def test_bad_bodies_are_one_line_4xx(client, body, kind, status, message):
    one_line_error(
        client.post("/api/predict", content=body, headers={"Content-Type": kind}), status, message
    )


def test_a_blank_drawing_says_so(client):
    blank = png(np.full((280, 280), 255, np.uint8))
    one_line_error(
        client.post("/api/predict", content=blank, headers={"Content-Type": "image/png"}),
        422,
        "the image is blank",
    )


def test_unknown_paths_methods_and_parameters_are_json_errors(client):
    one_line_error(client.get("/nowhere"), 404, "Not Found")
    one_line_error(client.get("/api/predict"), 405, "Method Not Allowed")
    one_line_error(client.get("/static/nothing.js"), 404, "Not Found")
    one_line_error(
        client.post(
            "/api/predict?with_input=perhaps",
            content=b"[]",
            headers={"Content-Type": "application/json"},
        ),
        422,
        "query with_input",
    )


def test_a_bug_is_a_500_without_a_traceback(tabular):
    _, model, *_ = tabular

    class Broken(Predictor):
        def row(self, body):
            raise RuntimeError("a bug")

    with TestClient(create_app(Broken(model)), raise_server_exceptions=False) as c:
        r = c.post(
            "/api/predict", content=b"[1,2,3,4]", headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 500
    assert r.json() == {"error": "internal error: the server's log has the details"}


# ---------------------------------------------------------------------- the page


def test_the_page_and_its_files_come_from_this_server_only(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert 'id="canvas"' in page and 'id="upload"' in page and 'id="clear"' in page
    assert "http://" not in page and "https://" not in page and "//" not in page.replace("-->", "")
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in page
        body = client.get(asset)
        assert body.status_code == 200
        assert "http://" not in body.text and "https://" not in body.text
    assert client.head("/").status_code == 200


def test_no_documentation_pages_that_load_from_a_cdn(client):
    # FastAPI's /docs and /redoc load their scripts from a CDN: they are turned off
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404


def test_the_openapi_document_describes_the_api(client, trees):
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) == {"/healthz", "/api/model", "/api/predict"}
    body = doc["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "image/png", "image/jpeg"}
    assert body["application/json"]["schema"]["minItems"] == 784
    assert set(doc["paths"]["/api/predict"]["post"]["responses"]) == {
        "200",
        "400",
        "413",
        "415",
        "422",
    }
    c, *_ = trees
    body = c.get("/openapi.json").json()["paths"]["/api/predict"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json"}  # a model of features takes no pictures


# ---------------------------------------------------------------------- schemathesis


def digit_app():
    """An untrained digit model: schemathesis checks what the API does, not how well."""
    return create_app(Predictor(Model(dn.MLP([784, 8, 10], seed=0))))


def tree_app():
    X = np.random.default_rng(0).normal(1e5, 1e3, size=(20, 4))
    model = Model(dn.MLP([4, 5, 3], seed=0), TREES, dn.Standardizer.fit(X))
    return create_app(Predictor(model))


digit_schema = schemathesis.openapi.from_asgi("/openapi.json", digit_app())
tree_schema = schemathesis.openapi.from_asgi("/openapi.json", tree_app())
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


# Every check schemathesis has (no 5xx, documented statuses, content types, response
# schemas, negative data rejected) but one: that data valid by the schema is accepted.
# No schema can say "a picture with a digit on it" or "numbers a float32 network can
# take", so a blank 1×1 JPEG (which schemathesis makes) is rightly a 422.
UNSAYABLE = [schemathesis.checks.positive_data_acceptance]


@digit_schema.parametrize()
@FUZZ
def test_schemathesis_digit_model(case):
    case.call_and_validate(excluded_checks=UNSAYABLE)


@tree_schema.parametrize()
@FUZZ
def test_schemathesis_tabular_model(case):
    case.call_and_validate(excluded_checks=UNSAYABLE)
