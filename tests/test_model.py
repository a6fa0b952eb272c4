import numpy as np
import pytest

import deltanet as dn
from deltanet.model import Model, Standardizer


def test_standardizer_fits_and_keeps_constant_features(rng):
    X = rng.normal(5.0, 3.0, size=(200, 4))
    X[:, 2] = 7.0  # constant: centred, not divided by zero
    s = Standardizer.fit(X)
    Z = s.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, [0, 1, 3]].std(axis=0), 1, rtol=1e-12)
    assert s.scale[2] == 1.0 and np.all(Z[:, 2] == 0)
    assert s.transform(X, "float32").dtype == np.float32


@pytest.mark.parametrize(
    ("mean", "scale", "message"),
    [
        ([0.0, 1.0], [1.0], "alike"),
        ([0.0], [0.0], "above 0"),
        ([np.nan], [1.0], "finite"),
    ],
)
def test_standardizer_refuses_nonsense(mean, scale, message):
    with pytest.raises(ValueError, match=message):
        Standardizer(np.array(mean), np.array(scale))


def test_a_model_answers_raw_rows_with_its_own_labels(rng):
    # the network sees standardized rows; the model takes raw ones and names the classes
    net = dn.MLP([3, 5, 2], dtype="float64", seed=0)
    X = rng.normal(100.0, 20.0, size=(50, 3))
    s = Standardizer.fit(X)
    model = Model(net, ["cat", "dog"], s)
    np.testing.assert_array_equal(model.predict_proba(X), net.predict_proba(s.transform(X)))
    assert set(model.predict(X)) <= {"cat", "dog"}
    assert model.labels == ("cat", "dog") and "classes=['cat', 'dog']" in repr(model)
    assert Model(net).predict(s.transform(X)).dtype.kind == "i"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": ["a"]}, "1 class labels for a network with 2 outputs"),
        ({"classes": ["a", "a"]}, "distinct"),
        ({"classes": [1.0, float("nan")]}, "finite number"),
        ({"classes": [None, 1]}, "string or a finite number"),
        ({"standardizer": Standardizer(np.zeros(4), np.ones(4))}, "4 features"),
        ({"input_shape": (2, 2)}, "does not make 3 inputs"),
    ],
)
def test_a_model_that_does_not_fit_its_network_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Model(dn.MLP([3, 4, 2]), **kwargs)


def test_numpy_labels_become_json_scalars():
    model = Model(dn.MLP([3, 4, 2]), np.array([3, 7]))
    assert model.classes == (3, 7) and all(type(c) is int for c in model.classes)
    with pytest.raises(ValueError, match="expected inputs of shape"):
        model.predict(np.zeros((2, 4)))


def test_feature_names_are_kept_and_checked():
    model = Model(dn.MLP([2, 3, 2]), feature_names=["height", "weight"])
    assert model.feature_names == ("height", "weight")
    assert model.metadata()["feature_names"] == ["height", "weight"]
    assert "feature_names" not in Model(dn.MLP([2, 3, 2])).metadata()  # as older files
    with pytest.raises(ValueError, match="1 feature names for a network taking 2 inputs"):
        Model(dn.MLP([2, 3, 2]), feature_names=["height"])
    with pytest.raises(ValueError, match="distinct"):
        Model(dn.MLP([2, 3, 2]), feature_names=["h", "h"])


def test_which_models_take_digits():
    mnist = dn.MLP([784, 10, 10])
    assert Model(mnist).takes_digits  # a network deltanet train saved: MNIST's pictures
    assert Model(mnist, input_shape=(28, 28)).takes_digits
    assert not Model(mnist, input_shape=(14, 14, 4)).takes_digits
    assert not Model(mnist, standardizer=Standardizer(np.zeros(784), np.ones(784))).takes_digits
    assert not Model(dn.MLP([64, 10, 10]), input_shape=(8, 8)).takes_digits


def test_threadsafe_prediction_is_the_same_prediction(rng):
    X = rng.normal(5, 3, size=(20, 4))
    model = Model(dn.MLP([4, 5, 3], seed=0), ["a", "b", "c"], Standardizer.fit(X))
    np.testing.assert_array_equal(model.predict_proba(X, threadsafe=True), model.predict_proba(X))
