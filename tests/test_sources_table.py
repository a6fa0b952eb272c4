import numpy as np
import pandas as pd
import pytest

from deltanet.errors import DataError
from deltanet.sources.table import features, load_table, read_table

RNG = np.random.default_rng(0)


def frame(n=40):
    return pd.DataFrame(
        {
            "height": np.linspace(1, 2, n),
            "weight": np.arange(n) * 3.0,
            "kind": ["a", "b"] * (n // 2),
        }
    )


def test_csv_tsv_and_parquet_read_alike(tmp_path):
    f = frame()
    f.to_csv(tmp_path / "t.csv", index=False)
    f.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    f.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.tsv", "t.parquet"):
        data = load_table(str(tmp_path / name), target=None, test=None, test_size=0.25, rng=RNG)
        assert data.classes == ("a", "b") and data.feature_names == ("height", "weight")
        assert data.X_train.shape == (30, 2) and data.X_test.shape == (10, 2)
        assert data.X_train.dtype == np.float64 and data.kind == "table"


def test_a_target_column_and_a_test_file(tmp_path):
    f = frame()
    f[["kind", "height", "weight"]].to_csv(tmp_path / "train.csv", index=False)
    f.iloc[:6].to_csv(tmp_path / "test.csv", index=False)  # other column order: by name
    data = load_table(
        str(tmp_path / "train.csv"),
        target="kind",
        test=str(tmp_path / "test.csv"),
        test_size=0.2,
        rng=RNG,
    )
    assert data.feature_names == ("height", "weight") and len(data.X_train) == 40
    np.testing.assert_array_equal(data.X_test, f.iloc[:6][["height", "weight"]].to_numpy())
    np.testing.assert_array_equal(data.y_test, [0, 1, 0, 1, 0, 1])


def test_a_test_file_with_a_label_training_never_saw(tmp_path):
    frame().to_csv(tmp_path / "train.csv", index=False)
    frame().assign(kind="c").to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(DataError, match="label 'c' is not one of the classes"):
        load_table(
            str(tmp_path / "train.csv"),
            target=None,
            test=str(tmp_path / "test.csv"),
            test_size=0.2,
            rng=RNG,
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n\n", "empty file"),
        ("a,b\n1,2\n1,2,3,4\n", "not a table pandas can read"),
        ("a,b\n", "a header (2 columns) but no rows"),
    ],
)
def test_tables_that_cannot_be_read(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=r"t\.csv: ") as refusal:
        read_table(path)
    assert message in str(refusal.value)


def test_a_table_of_one_column_has_no_features(tmp_path):
    (tmp_path / "t.csv").write_text("kind\na\nb\n")
    with pytest.raises(DataError, match="one column \\('kind'\\)"):
        load_table(str(tmp_path / "t.csv"), target=None, test=None, test_size=0.2, rng=RNG)


def test_parquet_refuses_garbage(tmp_path):
    (tmp_path / "t.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a Parquet file pyarrow can read"):
        read_table(tmp_path / "t.parquet")


def test_features_are_picked_by_name_and_must_be_numbers():
    f = frame().assign(note="x")
    np.testing.assert_array_equal(features(f, ("weight",), "f")[:, 0], f["weight"])
    with pytest.raises(DataError, match="no column 'size'"):
        features(f, ("size",), "f")
    with pytest.raises(DataError, match="column 'note' is not numeric, such as 'x'"):
        features(f, ("height", "note"), "f")
    f.loc[3, "weight"] = np.inf
    with pytest.raises(DataError, match="column 'weight' holds an infinite value"):
        features(f, ("weight",), "f")
