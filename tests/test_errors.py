import pytest

from deltanet import errors


@pytest.mark.parametrize(
    "cls",
    [errors.ConfigError, errors.DataError, errors.IDXError, errors.ModelFileError],
)
def test_every_users_mistake_is_a_user_error_and_a_value_error(cls):
    assert issubclass(cls, errors.UserError) and issubclass(cls, ValueError)


def test_the_idx_error_is_a_data_error_and_datasets_still_names_it():
    from deltanet import datasets

    assert datasets.IDXError is errors.IDXError and issubclass(errors.IDXError, errors.DataError)
