"""The web app of ``deltanet serve``: the draw-a-digit page and the JSON API, on FastAPI.

======================  ====================================================================
``GET /``               the page: a canvas to draw a digit on (or a form of the features)
``POST /api/predict``   PNG/JPEG bytes, or a JSON array of the model's D numbers -> classes
``GET /api/model``      architecture, class names, input, test error
``GET /healthz``        ``{"status": "ok"}``
``GET /openapi.json``   the OpenAPI document of the three above
======================  ====================================================================

Every error is a 4xx (5xx only for a bug) with one line of JSON, ``{"error": "..."}``,
never a traceback.  Bodies over :data:`~deltanet.limits.MAX_REQUEST_BYTES` are refused
(from their ``Content-Length``, or as they arrive), and pictures over
:data:`~deltanet.limits.MAX_REQUEST_PIXELS` from their header, before they are decoded.
Predictions run in the server's thread pool, each in buffers of its own
(:class:`~deltanet.predictor.Predictor`).  The page loads nothing from any other host
(its Content-Security-Policy says so to the browser), which is why FastAPI's own
documentation pages, which load their scripts from a CDN, are turned off.

FastAPI and uvicorn are the ``deltanet[serve]`` extra.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from deltanet import __version__
from deltanet.errors import UserError
from deltanet.images import NotAPicture, PictureTooLarge
from deltanet.limits import MAX_REQUEST_BYTES
from deltanet.predictor import MalformedInput, Predictor, UnsupportedInput

JSON, PNG, JPEG = "application/json", "image/png", "image/jpeg"
PICTURES = (PNG, JPEG)

# the page's own scripts, styles and pictures, and requests to its own host: nothing else
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# a user's mistake -> its status; the first class that matches wins
STATUS: tuple[tuple[type[UserError], int], ...] = (
    (PictureTooLarge, 413),
    (UnsupportedInput, 415),
    (MalformedInput, 400),
    (NotAPicture, 400),
    (UserError, 422),
)

Label = str | int | float | bool


class Error(BaseModel):
    error: str = Field(description="what was wrong, in one line")


class ClassOutput(BaseModel):
    label: Label
    probability: float | None = Field(None, description="when the outputs are probabilities")
    score: float | None = Field(None, description="when they are scores (squared error)")


class PredictionOut(BaseModel):
    label: Label = Field(description="the class of the largest output")
    output: Literal["probabilities", "scores"]
    classes: list[ClassOutput] = Field(description="every class, best first")
    input: list[list[float]] | None = Field(
        None,
        description="the 28×28 input the network saw (ink 1, paper 0), with ?with_input=true "
        "for a digit model",
    )


class InputOut(BaseModel):
    kind: Literal["digit", "features"]
    features: int
    shape: list[int] | None
    names: list[str] | None = Field(description="the features' names, where the model has them")
    standardized: bool


class ModelOut(BaseModel):
    name: str
    architecture: dict[str, Any]
    parameters: int
    classes: list[Label]
    input: InputOut
    output: Literal["probabilities", "scores"]
    test_error: float | None = Field(description="as the model file records it, if it does")


class Health(BaseModel):
    status: Literal["ok"]


def create_app(predictor: Predictor) -> FastAPI:
    """The app serving ``predictor``'s model."""
    app = FastAPI(
        title="deltanet",
        version=__version__,
        description=_description(predictor),
        docs_url=None,
        redoc_url=None,
    )
    _add_error_handlers(app)
    page = (files("deltanet") / "web" / "index.html").read_text(encoding="utf-8")
    app.mount("/static", StaticFiles(packages=[("deltanet", "web")]), name="static")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/healthz", response_model=Health, summary="the server is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    about = predictor.describe()

    @app.get("/api/model", response_model=ModelOut, summary="what the model is")
    async def model() -> dict[str, Any]:
        return about

    @app.post(
        "/api/predict",
        summary="the classes of a picture or of a row of numbers",
        response_class=JSONResponse,
        responses=_predict_responses(),
        openapi_extra={"requestBody": _predict_body(predictor)},
    )
    async def predict(request: Request, with_input: bool = False) -> JSONResponse:
        kind = _content_type(request, predictor)
        body = await _body(request)
        task = predictor.row if kind == JSON else predictor.picture
        answer = await run_in_threadpool(task, body)
        return JSONResponse(answer.to_json(with_input))

    return app


def _description(predictor: Predictor) -> str:
    d = predictor.model.n_features
    takes = "a PNG or JPEG picture of a digit, or " if predictor.reads_pictures else ""
    return (
        f"A deltanet model ({predictor.describe()['name']}). `POST /api/predict` takes "
        f"{takes}a JSON array of {d} numbers, and returns every class with its output, "
        f"best first. Bodies up to {MAX_REQUEST_BYTES:,} bytes; errors are "
        '`{"error": "..."}`.'
    )


def _predict_body(predictor: Predictor) -> dict[str, Any]:
    d = predictor.model.n_features
    content: dict[str, Any] = {
        JSON: {
            "schema": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": d,
                "maxItems": d,
                "description": f"the model's {d} raw input numbers",
            }
        }
    }
    if predictor.reads_pictures:
        for kind in PICTURES:
            content[kind] = {"schema": {"type": "string", "format": "binary"}}
    return {"required": True, "content": content}


def _predict_responses() -> dict[int | str, dict[str, Any]]:
    errors = {
        400: "the body is not what its type says (not JSON, not a picture)",
        413: f"a body over {MAX_REQUEST_BYTES:,} bytes, or a picture of too many pixels",
        415: "a content type other than the ones listed, or a picture for a model of features",
        422: "numbers of the wrong count or not finite, a blank picture, a bad parameter",
    }
    return {
        200: {"model": PredictionOut, "description": "every class, best first"},
        **{code: {"model": Error, "description": text} for code, text in errors.items()},
    }


def _content_type(request: Request, predictor: Predictor) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    accepted = (JSON, *PICTURES) if predictor.reads_pictures else (JSON,)
    if kind not in accepted:
        raise HTTPException(
            415,
            f"content type {kind or '(none)'!r}: send {' or '.join(accepted)}",
        )
    return kind


async def _body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise HTTPException(413, _too_large())
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise HTTPException(413, _too_large())
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> str:
    return f"the body is over {MAX_REQUEST_BYTES:,} bytes"


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as one line of JSON."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = " ".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(UserError)
    async def users_mistake(request: Request, exc: UserError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        return JSONResponse({"error": " ".join(str(exc).split())}, status)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        # the traceback goes to the server's log (uvicorn prints it), never to the client
        return JSONResponse({"error": "internal error: the server's log has the details"}, 500)
