"""``deltanet serve``: the real command on loopback, its refusals, and a bounded load."""

import json
import signal
import socket
import sys

import pytest
from helpers import refused, run_cli

from deltanet.cli import serve

pytest.importorskip("fastapi")


def test_it_listens_on_loopback_only_and_says_so(served):
    first, reach, api = served.lines
    assert first.startswith("serving the 784-64-10 relu model of ")
    assert served.url.startswith("http://127.0.0.1:")
    assert "only this machine can reach it (127.0.0.1)" in reach
    assert "/api/predict" in api and "/openapi.json" in api


def test_the_load_2000_requests_from_16_clients_without_an_error(
    served, serve_load, digit_model, artifacts
):
    requests = serve_load.digit_requests(digit_model, n=100)
    load = serve_load.load(served.url, requests, total=2000, clients=16, deadline=240)
    summary = load.summary()
    (artifacts / "serve-load.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(load.markdown())
    assert load.errors == [], load.errors[:5]
    assert len(load.latencies) == 2000 and summary["requests_per_second"] > 0
    assert "Traceback" not in served.log_text()


def test_the_answers_a_served_model_gives(served, serve_load, digit_model):
    import httpx2

    (request,) = serve_load.digit_requests(digit_model, n=1)
    r = httpx2.post(
        served.url + "api/predict",
        content=request.body,
        headers={"Content-Type": request.content_type},
    )
    assert r.json()["label"] == request.label == 7  # MNIST's first test digit


@pytest.mark.parametrize(
    ("host", "message"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("0.0.0.0", "other machines can reach it")],
)
def test_what_it_says_about_who_can_reach_it(host, message):
    assert message in serve._reach(host)
    assert ("only this machine" in serve._reach(host)) == (host != "0.0.0.0")


def test_a_taken_port_is_one_line(tabular, capsys):
    path, *_ = tabular
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused(capsys, ["serve", path, "--port", port], f"port {port} on 127.0.0.1 is in use")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "'70000' is not a port number (0 to 65535)"),
        (["--port", "-1"], "not a port number"),
        (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1 port"),  # not this machine's
    ],
)
def test_bad_addresses_are_one_line(tabular, capsys, args, message):
    path, *_ = tabular
    refused(capsys, ["serve", path, *args], message)


def test_without_the_extra_it_says_what_to_install(tabular, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    path, *_ = tabular
    refused(capsys, ["serve", path], "pip install 'deltanet[serve]'")


def test_a_missing_model_is_one_line():
    result = run_cli("serve", "no-such-model.safetensors")
    assert result.returncode == 2 and "no such file" in result.stderr


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "start", [None, _ignore_sigint], ids=["in a terminal", "as a background job"]
)
def test_ctrl_c_stops_it_as_every_command_stops(serve_load, tabular, start):
    # a background job starts with SIGINT ignored; uvicorn still stops on it, and the
    # command must still end as an interrupted one
    path, *_ = tabular
    with serve_load.serving(path, preexec_fn=start) as server:
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(30) == 130
        assert server.log_text().rstrip().endswith("deltanet serve: interrupted")
