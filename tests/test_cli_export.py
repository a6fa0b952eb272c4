"""``deltanet export``: the ONNX file, checked against onnxruntime as it is written."""

import re
import sys

import pytest
from helpers import refused, run_cli

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def agreement(stdout):
    """The largest difference the command printed."""
    return float(re.search(r"agrees with deltanet to (\S+) ", stdout).group(1))


def test_export_a_digit_model_checked_on_the_mnist_test_set(digit_model, tmp_path, artifacts):
    out = tmp_path / "mnist.onnx"
    result = run_cli("export", digit_model.parent, "--onnx", out)  # a run directory works
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"wrote {out} (ONNX opset 17, ")
    assert '"input" (N, 784) float32 -> "probabilities" (N, 10) float32' in lines[0]
    assert "over the 10,000 MNIST test images" in lines[1]
    assert agreement(result.stdout) <= 1e-5
    onnx.checker.check_model(onnx.load(out))
    (artifacts / "onnx-agreement.txt").write_text(result.stdout)


def test_export_a_tabular_model_checked_on_random_rows(tabular, tmp_path):
    path, *_ = tabular
    result = run_cli("export", path, "--onnx", tmp_path / "trees.onnx")
    assert result.returncode == 0, result.stderr
    assert "over 1,000 random rows" in result.stdout and agreement(result.stdout) <= 1e-5


def test_export_refuses_to_write_over_its_own_model(tabular, capsys):
    path, *_ = tabular
    refused(capsys, ["export", path, "--onnx", path], "is the model file itself")


def test_export_needs_onnx_flag(tabular, capsys):
    path, *_ = tabular
    refused(capsys, ["export", path], "--onnx")


def test_export_without_the_extra_is_one_line(tabular, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    path, *_ = tabular
    refused(capsys, ["export", path, "--onnx", tmp_path / "x.onnx"], "deltanet[onnx]")
    assert not (tmp_path / "x.onnx").exists()


def test_export_without_onnxruntime_writes_but_does_not_check(
    tabular, tmp_path, monkeypatch, capsys
):
    from deltanet.cli import main

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    path, *_ = tabular
    assert main(["export", str(path), "--onnx", str(tmp_path / "x.onnx")]) == 0
    assert (tmp_path / "x.onnx").is_file()
    assert "onnxruntime is not installed: the file was not run" in capsys.readouterr().out
