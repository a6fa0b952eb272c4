from deltanet.cli import main


def test_reproduce_command_prints_the_table(capsys, tmp_path, tiny_data):
    md = tmp_path / "table.md"
    argv = ["reproduce", "--epochs", "1", "--quiet", "--data-dir", str(tiny_data)]
    assert main([*argv, "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "original test" in out and "6.90%" in out and "5.70%" in out
    assert len([line for line in out.splitlines() if "Test1" in line]) >= 3
    assert md.read_text().startswith("| run |")
    assert "1 epoch on all 60 training images; 9 runs" in out
