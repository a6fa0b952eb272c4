import numpy as np
import pytest

from deltanet.layout import Layout


def test_mlp_layout_order_and_views_share_memory():
    layout = Layout.for_mlp([3, 4, 2])
    assert [(b.name, b.shape, b.offset) for b in layout] == [
        ("W1", (3, 4), 0),
        ("b1", (4,), 12),
        ("W2", (4, 2), 16),
        ("b2", (2,), 24),
    ]
    flat = np.arange(layout.size, dtype=float)
    views = layout.views(flat)
    np.testing.assert_array_equal(views["W1"], np.arange(12).reshape(3, 4))  # C order
    views["b2"][:] = -1
    assert flat[-2:].tolist() == [-1, -1]
    assert np.shares_memory(views["W2"], flat)


def test_labels_and_locate():
    layout = Layout({"W1": (784, 30), "b1": 30})
    block, local = layout.locate(17 * 30 + 3)
    assert block.label(local) == "W1[17, 3]"
    block, local = layout.locate(784 * 30 + 5)
    assert block.label(local) == "b1[5]"
    with pytest.raises(IndexError):
        layout.locate(layout.size)


def test_views_reject_wrong_size():
    with pytest.raises(ValueError, match="flat vector of 6"):
        Layout({"a": (2, 3)}).views(np.zeros(5))
