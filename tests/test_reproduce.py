from deltanet import reproduce


def test_the_hand_written_bugs_fail_the_gradient_check(rng):
    net = reproduce.HandWrittenBugs(
        [12, 8, 10], hidden="sigmoid", loss="squared_error", l2=0.01, dtype="float64", seed=0
    )
    net.params += 0.1 * rng.normal(size=net.n_params)
    report = net.gradcheck(rng.random((10, 12)), rng.integers(0, 10, 10))
    assert set(report.failed_blocks) == {"W1", "b1", "W2", "b2"}
    assert "starts at the output" in str(report)


def test_configurations_cover_the_original_table():
    originals = [c for c in reproduce.CONFIGS if c.original]
    assert {(c.l2, c.optimizer) for c in originals} == {
        (0.001, "rmsprop_gains"),
        (2e-6, "rmsprop_gains"),
    }
    assert any(c.bugs for c in reproduce.CONFIGS) and any(
        c.loss == "cross_entropy" for c in reproduce.CONFIGS
    )


def test_table_formats():
    cfg = reproduce.CONFIGS[0]
    text = reproduce.format_table([reproduce.Result(cfg, 0.1, 0.2, 3.0)])
    assert "10.00%" in text and "20.00%" in text and "6.10%" in text
    md = reproduce.format_table([reproduce.Result(cfg, 0.1, 0.2, 3.0)], markdown=True)
    assert md.count("|") == 3 * 10  # header, rule and one row, 9 columns each
