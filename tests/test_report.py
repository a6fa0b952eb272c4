"""The report of a short real training run: every picture exists, has the expected size,
is not blank, and the HTML page embeds them all and needs no network."""

import re

import pytest
from helpers import assert_picture

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
