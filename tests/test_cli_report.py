from deltanet.cli import main


def test_report_command_redraws(run_dir, capsys):
    (run_dir / "confusion.png").unlink()
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and (run_dir / "confusion.png").is_file()


def test_report_of_a_folder_without_a_model_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no model.safetensors" in capsys.readouterr().err
