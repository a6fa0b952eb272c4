import pytest
from helpers import one_line_error, refused, run_cli, tiny_dataset


def test_evaluate(trained):
    result = run_cli("evaluate", trained / "model.safetensors")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "test error" in out and "accuracy" in out and "true \\ predicted" in out
    assert len([line for line in out.splitlines() if line.strip().startswith("9 ")]) >= 1


def test_a_run_directory_is_evaluated_through_its_model(trained):
    by_folder = run_cli("evaluate", trained)
    assert by_folder.returncode == 0, by_folder.stderr
    assert by_folder.stdout == run_cli("evaluate", trained / "model.safetensors").stdout


def test_a_checkpoint_is_refused_naming_the_model_to_use(trained):
    result = run_cli("evaluate", trained / "checkpoint.safetensors")
    one_line_error(result, f"the model to use is {trained / 'model.safetensors'}")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "garbage.safetensors").write_bytes(b"\x00" * 64)
    (root / "empty_run").mkdir()
    tiny_dataset(root / "small_images", side=10)
    return root


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("{root}/missing.safetensors", "no such file"),
        ("{root}/garbage.safetensors", "not a valid safetensors"),
        ("{root}/empty_run", "a folder without a model.safetensors"),
        ("/dev/zero", "/dev/zero: not a regular file"),
    ],
)
def test_bad_models_are_one_line_and_exit_2(bad_files, model, message, capsys):
    refused(capsys, ["evaluate", model.format(root=bad_files)], message)


def test_a_model_that_does_not_fit_the_data(trained, bad_files):
    one_line_error(
        run_cli("evaluate", trained, "--data-dir", bad_files / "small_images"),
        "the model takes 784 inputs but the images have 100 pixels",
    )
