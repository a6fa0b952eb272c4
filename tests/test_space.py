"""The search space: the default one, a TOML file's changes, and what is refused."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltanet.config import TrainConfig
from deltanet.errors import ConfigError
from deltanet.space import DEFAULT, Choice, Range, SearchSpace


class DrawingTrial:
    """Optuna's trial interface, drawing with hypothesis' ``data`` (or the low end)."""

    def __init__(self, data=None):
        self.data, self.asked = data, {}

    def suggest_float(self, name, low, high, *, log=False):
        self.asked[name] = ("float", low, high, log)
        if self.data is None:
            return low
        return self.data.draw(st.floats(low, high, allow_nan=False), label=name)

    def suggest_int(self, name, low, high, *, log=False):
        self.asked[name] = ("int", low, high, log)
        return low if self.data is None else self.data.draw(st.integers(low, high), label=name)

    def suggest_categorical(self, name, choices):
        self.asked[name] = ("categorical", tuple(choices))
        return choices[0] if self.data is None else self.data.draw(st.sampled_from(choices))


def write(tmp_path, text):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_the_default_space_searches_what_the_issue_lists():
    trial = DrawingTrial()
    config = DEFAULT.suggest(trial, inputs=784, outputs=10)
    assert set(trial.asked) == {
        "lr", "optimizer", "depth", "width", "hidden", "dropout", "l2", "batch_size", "average",
    }  # fmt: skip
    assert trial.asked["lr"] == ("float", 1e-4, 0.1, True)  # log-uniform
    assert trial.asked["width"][0] == "int" and trial.asked["depth"][0] == "int"
    assert config.layers == (784, 32, 10)  # depth 1 of width 32: the low ends
    assert isinstance(config, TrainConfig)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_every_draw_of_the_default_space_is_a_valid_run(data):
    trial = DrawingTrial(data)
    config = DEFAULT.suggest(trial, inputs=64, outputs=3)  # a ConfigError would fail here
    hidden = config.layers[1:-1]
    assert config.layers[0] == 64 and config.layers[-1] == 3
    assert 1 <= len(hidden) <= 3 and len(set(hidden)) == 1  # every hidden layer one width
    assert 1e-4 <= config.lr <= 0.1 and 0 <= config.dropout <= 0.5
    assert set(trial.asked) == set(DEFAULT.dimensions)


def test_a_toml_file_changes_only_the_names_it_gives(tmp_path):
    path = write(
        tmp_path,
        """
lr = { low = 0.001, high = 1, log = true }
hidden = ["relu"]
dropout = 0.25
val_size = 500
width = { low = 16, high = 64 }
""",
    )
    space = SearchSpace.load(path)
    assert space.dimensions["lr"] == Range(0.001, 1, log=True)
    assert space.dimensions["hidden"] == Choice(("relu",))
    assert space.dimensions["width"] == Range(16, 64, integer=True)
    assert space.fixed == {"dropout": 0.25, "val_size": 500}
    assert space.dimensions["optimizer"] == DEFAULT.dimensions["optimizer"]
    trial = DrawingTrial()
    config = space.suggest(trial, 784, 10)
    assert config.dropout == 0.25 and config.val_size == 500 and config.lr == 0.001
    assert "dropout" not in trial.asked
    # a float setting with whole-number ends is still drawn as a float
    assert SearchSpace.load(write(tmp_path, "l2 = { low = 0, high = 1 }")).dimensions[
        "l2"
    ] == Range(0, 1)


def test_a_fixed_layers_replaces_depth_and_width(tmp_path):
    space = SearchSpace.load(write(tmp_path, "layers = [784, 100, 10]"))
    assert "depth" not in space.dimensions and "width" not in space.dimensions
    assert space.suggest(DrawingTrial(), 784, 10).layers == (784, 100, 10)


def test_a_space_reads_back_from_its_own_record(tmp_path):
    space = DEFAULT.updated({"val_size": 300, "hidden": ["tanh", "relu"]})
    lines = []
    for name, value in space.to_data().items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {str(v).lower()}" for k, v in value.items())
            lines.append(f"{name} = {{ {inner} }}")
        else:
            lines.append(f"{name} = {value!r}".replace("'", '"'))
    assert SearchSpace.load(write(tmp_path, "\n".join(lines))) == space


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("speed = 3", "'speed' is not a setting of a run"),
        ("lr = { low = 0.1, high = 0.01 }", "lr: low 0.1 must be below high 0.01"),
        ("lr = { low = 0, high = 0.1, log = true }", "lr must be a positive number"),
        ("l2 = { low = 0, high = 0.1, log = true }", "a log range needs low > 0"),
        ("dropout = { low = 0.1, high = 1.0 }", "dropout must be a probability in [0, 1)"),
        ("width = { low = 8.0, high = 64 }", "width takes whole numbers"),
        ("hidden = ['relu', 'swish']", "unknown activation 'swish'"),
        ("lr = { low = 0.1 }", "a range is { low = ..., high = ..., log = true|false }"),
        ("lr = []", "a choice needs at least one value"),
        ("data = '/tmp'", "data is not part of a search space: give it with --data"),
        ("layers = [784, 10]\ndepth = 2", "give either layers or depth and width, not both"),
        ("layers = { low = 1, high = 2 }", "layers cannot be searched"),
        ("epochs = 0", "epochs must be at least 1"),
        ("lr = ", "not a valid TOML file"),
    ],
)
def test_a_space_that_could_draw_a_refused_setting_is_refused_when_read(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        SearchSpace.load(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_a_missing_space_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the search space"):
        SearchSpace.load(tmp_path / "nope.toml")


def test_describe_has_a_line_per_name():
    text = DEFAULT.with_fixed(epochs=5).describe()
    assert "lr           0.0001 .. 0.1 (log-uniform)" in text
    assert "epochs       = 5" in text
    assert len(text.splitlines()) == len(DEFAULT.dimensions) + 1
