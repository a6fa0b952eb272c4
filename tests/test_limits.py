import pytest
from threadpoolctl import threadpool_info

from deltanet import limits
from deltanet.errors import ConfigError


def test_check_memory_compares_with_this_machines_ram(monkeypatch):
    monkeypatch.setattr(limits, "physical_memory", lambda: 8 * 10**9)
    limits.check_memory(8 * 10**9, "a network", ConfigError)  # fits, just
    with pytest.raises(
        ConfigError, match=r"a network would need 8\.0 GB, more than this machine's"
    ):
        limits.check_memory(8 * 10**9 + 1, "a network", ConfigError)
    monkeypatch.setattr(limits, "physical_memory", lambda: None)
    limits.check_memory(10**30, "anything")  # the system does not say: nothing to check


def test_physical_memory_is_known_here():
    ram = limits.physical_memory()
    assert ram is None or ram > 10**8


def test_blas_threads():
    import numpy  # noqa: F401 - loads the BLAS whose threads are limited

    with limits.blas_threads(1):
        assert {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"} == {1}
    with limits.blas_threads(None):
        pass
