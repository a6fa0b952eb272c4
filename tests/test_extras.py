"""Optional features: a missing extra is one clear line, and the core needs none of them."""

import json
import subprocess
import sys

import pytest

from deltanet.errors import MissingExtraError, UserError
from deltanet.extras import require


def test_an_installed_module_is_returned():
    assert require("json", "none", "reading") is json


def test_a_missing_module_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError) as err:
        require("onnx", "onnx", "ONNX export")
    assert str(err.value) == "ONNX export needs the onnx package: pip install 'deltanet[onnx]'"
    assert isinstance(err.value, UserError)


def test_a_module_that_fails_on_its_own_import_is_a_bug(tmp_path, monkeypatch):
    # an installed module whose own dependency is missing: not the extra's fault
    (tmp_path / "broken_extra.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
        require("broken_extra", "x", "a feature")


EXTRAS = ("onnx", "onnxruntime", "fastapi", "starlette", "uvicorn", "pydantic")


def test_the_core_library_and_command_work_without_any_extra():
    blocked = "".join(f"sys.modules[{name!r}] = None; " for name in EXTRAS)
    code = (
        f"import sys; {blocked}"
        "import numpy as np, deltanet as dn; "
        "net = dn.MLP([4, 3, 2], seed=0); "
        "print(json.dumps(net.predict(np.ones((2, 4))).tolist())); "
        "from deltanet.cli import main; "
        "sys.exit(main(['export', 'no.safetensors', '--onnx', 'x.onnx']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True
    )
    assert json.loads(result.stdout.splitlines()[0]) in ([0, 0], [1, 1])
    # the command line builds every parser without the extras; the missing file is
    # what stops this export, not a missing import
    assert result.returncode == 2, result.stderr
    assert "no.safetensors: no such file" in result.stderr
