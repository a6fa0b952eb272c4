"""``deltanet serve``: a model behind a draw-a-digit page and a JSON API (FastAPI, uvicorn)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket

from deltanet.cli import _args
from deltanet.errors import ConfigError

DESCRIPTION = """\
Serve a saved model on a web page and a JSON API. For a digit model the
page has a canvas to draw on with a mouse, a finger or a pen (or a picture
to upload): the top 3 classes follow as you draw, beside the 28×28 input
the network sees, made as `deltanet predict` makes it. For a model of
other data the page has a form of its features.

The API: POST /api/predict takes PNG/JPEG bytes or a JSON array of the
model's D numbers and returns every class with its probability, best
first; GET /api/model, GET /healthz; the OpenAPI document is at
/openapi.json. Bodies are limited to 1 MB, pictures to 2048×2048 pixels;
every error is one line of JSON.

It listens on 127.0.0.1, so only this machine can reach it, unless --host
says otherwise (0.0.0.0: every network this machine is on; there is no
login). Needs the serve extra: pip install 'deltanet[serve]'.

examples:
  deltanet serve runs/latest                 # then open http://127.0.0.1:8000/
  curl -H 'Content-Type: image/png' --data-binary @seven.png \\
      http://127.0.0.1:8000/api/predict"""

# connections handled at once (uvicorn answers more with 503): with bodies of at most
# 1 MB, what requests in flight can hold stays bounded
MAX_CONNECTIONS = 128


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _args.add_command(
        sub,
        "serve",
        help="a draw-a-digit page and a JSON API for a model",
        description=DESCRIPTION,
    )
    _args.add_model(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 opens the server to other machines",
    )
    p.add_argument(
        "--port", type=port, default=8000, help="the port to listen on (0: any free one)"
    )
    p.add_argument("--quiet", action="store_true", help="no log line per request")
    p.set_defaults(func=run)


def port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from deltanet.extras import require

    uvicorn = require("uvicorn", "serve", "deltanet serve")
    require("fastapi", "serve", "deltanet serve")
    from deltanet.modelfile import read_model
    from deltanet.predictor import Predictor
    from deltanet.server import create_app

    path = _args.model_path(args.model)
    predictor = Predictor(*read_model(path))
    app = create_app(predictor)
    sock = listen(args.host, args.port)
    host, bound = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serving the {predictor.describe()['name']} model of {path} at http://{shown}:{bound}/",
        flush=True,
    )
    print(_reach(host), flush=True)
    print(
        "  the page at /, the API at /api/predict, /api/model and /healthz, its OpenAPI "
        "document at /openapi.json; ^C stops it",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        limit_concurrency=MAX_CONNECTIONS,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if server.should_exit:
        # uvicorn stopped on ^C and raises it again once it has shut down, which main()
        # reports as every command does; where SIGINT was ignored when this process
        # started (a background job), raising it again does nothing, so say it here
        raise KeyboardInterrupt
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (checked here, so a taken port is one line)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host}: not an address to listen on ({exc})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use: choose another with --port (0: any free one)"
            ) from None
        raise ConfigError(f"cannot listen on {host} port {port} ({exc.strerror})") from None
    return sock


def _reach(host: str) -> str:
    if ipaddress.ip_address(host.split("%")[0]).is_loopback:
        return (
            f"  only this machine can reach it ({host}); --host 0.0.0.0 would open it to "
            "other machines"
        )
    return (
        f"  listening on {host}: other machines can reach it, and there is no login; "
        "the default --host 127.0.0.1 keeps it to this machine"
    )
