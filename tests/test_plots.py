"""Pictures rendered from a short real training run: they exist, have the expected size,
are not blank, and the HTML report embeds them all and needs no network."""

import re

import numpy as np
import pytest
from PIL import Image

import deltanet as dn
from deltanet import plots
from deltanet.cli import main


def pixels(path):
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=float), img.size


def assert_picture(path, min_size=(300, 200)):
    arr, (w, h) = pixels(path)
    assert w >= min_size[0] and h >= min_size[1], (path, w, h)
    assert arr.std() > 5, f"{path} looks blank"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "train",
            "--layers",
            "784,25,10",
            "--epochs",
            "3",
            "--val-size",
            "50000",
            "--out",
            str(out),
            "--quiet",
            "--plots",
        ]
    )
    assert code == 0
    return out


EXPECTED = {
    "learning_curves.png": (900, 300),
    "confusion.png": (500, 450),
    "weights.png": (300, 200),
    "mistakes.png": (500, 300),
    "gradcheck.png": (900, 300),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_train_plots_writes_every_picture(run_dir, name):
    assert_picture(run_dir / name, EXPECTED[name])


def test_report_html_is_self_contained(run_dir):
    html = (run_dir / "report.html").read_text()
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    assert len(images) == len(EXPECTED)
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere
    assert not re.search(r"<(script|link)\b", html)
    for words in (
        "test error",
        "Per-class accuracy",
        "Configuration",
        "optimizer",
        "Learning curves",
        "Confusion matrix",
        "First-layer weights",
        "Most confident mistakes",
        "Gradient check",
    ):
        assert words in html, words


def test_report_command_redraws(run_dir, capsys):
    (run_dir / "confusion.png").unlink()
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and (run_dir / "confusion.png").is_file()


def test_report_of_a_folder_without_a_model_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no model.safetensors" in capsys.readouterr().err


def test_functions_return_figures_for_notebooks(tmp_path, rng):
    history = dn.History(
        [
            {
                "epoch": e,
                "lr": 0.001,
                "loss": 1 / e,
                "train_error": 0.1 / e,
                "val_error": 0.12 / e,
                "test_error": float("nan"),
                "seconds": 1.0,
            }
            for e in range(1, 5)
        ],
        best_epoch=4,
    )
    fig = plots.learning_curves(history)
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    path = plots.save_figure(fig, tmp_path / "curves.svg")
    assert "<svg" in path.read_text()[:2000]
    cm = rng.integers(0, 50, (10, 10)) + np.diag(np.full(10, 900))
    assert_picture(plots.save_figure(plots.confusion(cm), tmp_path / "cm.png"))
    with pytest.raises(ValueError, match="784 inputs"):
        plots.first_layer(np.zeros((100, 5)))


def test_history_csv_round_trip():
    history = dn.History(
        [
            {
                "epoch": 1,
                "lr": 0.001,
                "loss": 0.5,
                "train_error": 0.1,
                "val_error": 0.2,
                "test_error": float("nan"),
                "seconds": 1.5,
            }
        ]
    )
    back = dn.History.from_csv(history.to_csv())
    assert back.records[0]["epoch"] == 1 and back.records[0]["val_error"] == 0.2
    assert np.isnan(back.records[0]["test_error"])


def test_gradcheck_plot(tmp_path):
    out = tmp_path / "gc.png"
    code = main(
        [
            "gradcheck",
            "--layers",
            "784,8,10",
            "--samples",
            "5",
            "--max-coords",
            "40",
            "--plot",
            str(out),
        ]
    )
    assert code == 0
    assert_picture(out, (900, 300))
