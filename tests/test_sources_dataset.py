import numpy as np
import pytest

from deltanet.errors import DataError
from deltanet.sources.dataset import class_labels, encode


@pytest.mark.parametrize(
    ("y", "classes"),
    [
        (np.array([7, 3, 7, 3]), (3, 7)),
        (np.array([2.0, 1.0, 2.0]), (1, 2)),  # whole numbers written as floats
        (np.array(["dog", "cat", "dog"]), ("cat", "dog")),
        (np.array(["b", "a"], dtype=object), ("a", "b")),
        (np.array([True, False]), (False, True)),
    ],
)
def test_class_labels_are_sorted_json_scalars(y, classes):
    found = class_labels(y, "here")
    assert found == classes and all(type(c) in (int, str, bool) for c in found)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([1, 1, 1]), "one class only (1)"),
        (np.array([0.5, 1.0]), "fractional values such as 0.5"),
        (np.array([1.0, np.nan]), "NaN"),
        (np.array(["a", 1], dtype=object), "mix types"),
    ],
)
def test_what_is_not_a_set_of_classes_is_refused(y, message):
    with pytest.raises(DataError, match=r"^here: ") as refusal:
        class_labels(y, "here")
    assert message in str(refusal.value)


def test_encode_gives_output_units_and_names_an_unknown_label():
    y = np.array(["dog", "cat", "cat"], dtype=object)
    np.testing.assert_array_equal(encode(y, ("cat", "dog"), "x"), [1, 0, 0])
    np.testing.assert_array_equal(encode(np.array([7.0, 3.0]), (3, 7), "x"), [1, 0])
    with pytest.raises(DataError, match="label 'cow' is not one of the classes"):
        encode(np.array(["cow"]), ("cat", "dog"), "x")
