import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltanet.errors import DataError
from deltanet.sources.split import stratified_split


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    test_size=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_class_is_split_in_proportion(counts, test_size, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(y)
    try:
        train, test = stratified_split(y, test_size, np.random.default_rng(seed))
    except DataError:
        assert all(round(test_size * n) == 0 or n == 1 for n in counts)
        return
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    assert np.all(np.diff(test) > 0)  # test rows keep their order
    for k, n in enumerate(counts):
        held = int(np.sum(y[test] == k))
        assert held == min(round(test_size * n), n - 1)  # a class never leaves training
    again = stratified_split(y, test_size, np.random.default_rng(seed))
    assert all(np.array_equal(a, b) for a, b in zip((train, test), again, strict=True))


def test_too_few_rows_to_hold_any_out():
    with pytest.raises(DataError, match="leaves no test rows"):
        stratified_split(np.array([0, 1]), 0.2, np.random.default_rng(0))
