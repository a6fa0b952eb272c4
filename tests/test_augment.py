import numpy as np
import pytest
from scipy import ndimage

import deltanet as dn
from deltanet.augment import Augment
from deltanet.ops import bilinear


@pytest.fixture(scope="module")
def digits():
    return dn.datasets.load_mnist().X_train[:64]


def test_identity_transform_changes_nothing(digits, rng):
    aug = Augment(shift=0, rotate=0, scale=0, shear=0)
    np.testing.assert_allclose(aug(digits, rng), digits, atol=1e-6)


def test_bilinear_matches_scipy(digits, rng):
    coords = Augment().coordinates(len(digits), rng)
    index = np.broadcast_to(np.arange(len(digits), dtype=float)[:, None, None], coords.shape[1:])
    ref = ndimage.map_coordinates(
        digits.reshape(-1, 28, 28),
        [index, coords[0], coords[1]],
        order=1,
        mode="grid-constant",
        cval=0.0,
        prefilter=False,
    )
    np.testing.assert_allclose(bilinear(digits.reshape(-1, 28, 28), coords), ref, atol=1e-5)


def test_pure_shift_moves_the_digit(digits, rng):
    aug = Augment(shift=0, rotate=0, scale=0, shear=0)
    coords = aug.coordinates(1, rng)
    coords[0] -= 2  # sample two rows up: the digit moves two rows down
    moved = bilinear(digits[:1].reshape(1, 28, 28), coords)[0]
    np.testing.assert_allclose(moved[2:], digits[0].reshape(28, 28)[:-2], atol=1e-6)


@pytest.mark.parametrize("aug", [Augment(), Augment(elastic_alpha=1.0)])
def test_distortions_keep_the_ink_and_vary(digits, aug):
    rng = np.random.default_rng(0)
    a, b = aug(digits, rng), aug(digits, rng)
    assert a.shape == digits.shape and a.dtype == digits.dtype
    assert not np.allclose(a, b)  # every call draws new transforms
    assert 0 <= a.min() and a.max() <= 1 + 1e-6
    ratio = a.sum(axis=1) / digits.sum(axis=1)
    # zoom ±10% changes the area by up to ±21%; shear and elastic warping add to it
    assert 0.5 < ratio.min() and ratio.max() < 2.0  # distorted, never erased or smeared out
    same = aug(digits, np.random.default_rng(0))
    np.testing.assert_array_equal(same, a)  # a seed fixes everything


def test_bad_parameters():
    with pytest.raises(ValueError, match="scale must be below 1"):
        Augment(scale=1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        Augment(rotate=-1)


def test_the_named_augmentations():
    from deltanet.augment import AUGMENTS, from_name
    from deltanet.errors import ConfigError

    assert set(AUGMENTS) == {"none", "affine", "elastic", "elastic-strong"}
    assert from_name("none") is None
    assert from_name("affine") == Augment() and from_name("elastic").elastic_alpha == 1.0
    assert from_name("affine") is not from_name("affine")  # fresh: no bank shared by runs
    with pytest.raises(ConfigError, match="unknown augmentation 'wild'"):
        from_name("wild")


def test_distorting_a_batch_in_place_equals_distorting_a_copy(digits):
    # the trainer distorts its batch buffer in place: the compiled warp must not read
    # pixels it has already written
    from deltanet.augment import Augment

    aug = Augment(elastic_alpha=1.0)
    batch = digits[:20].copy()
    expected = aug(batch.copy(), np.random.default_rng(3))
    aug(batch, np.random.default_rng(3), out=batch)
    np.testing.assert_array_equal(batch, expected)
