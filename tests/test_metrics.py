import numpy as np

from deltanet.metrics import confusion_matrix, format_per_class, per_class_rows, percent


def test_percent():
    assert percent(0.0123) == "1.23%" and percent(1) == "100.00%"
    assert percent(None) == "–" and percent(float("nan"), missing="") == ""


def test_confusion_matrix_and_per_class_rows():
    cm = confusion_matrix(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [1, 2, 0], [0, 0, 0]])
    assert per_class_rows(cm) == [
        ("0", "2", "1", "50.00%"),
        ("1", "3", "2", "66.67%"),
        ("2", "0", "0", "-"),
    ]
    lines = format_per_class(cm).splitlines()
    assert lines[0] == "class  images  correct  accuracy"
    assert lines[3] == "    1       3        2    66.67%"


def test_tables_by_class_name():
    import numpy as np

    from deltanet.metrics import format_confusion, format_per_class

    cm = np.array([[3, 1], [0, 2]])
    table = format_per_class(cm, ["butterfly", "moth"])
    assert table.splitlines()[2].split() == ["butterfly", "4", "3", "75.00%"]
    confusion = format_confusion(cm, ["butterfly", "moth"])
    assert "butterfly (0)" in confusion  # long names: the columns are numbered
    assert format_confusion(cm, ["a", "b"]).splitlines()[0].split()[-2:] == ["a", "b"]
