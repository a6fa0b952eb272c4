import io

import numpy as np
import pytest

from deltanet.errors import DataError
from deltanet.npyformat import read_header, shape_bytes


def test_the_header_is_read_and_the_size_checked():
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 4), np.float32))
    size = len(buf.getvalue())
    buf.seek(0)
    assert read_header(buf, "x", size) == ((3, 4), np.dtype(np.float32))
    buf.seek(0)
    with pytest.raises(DataError, match="the header says \\(3, 4\\) float32 \\(48 bytes"):
        read_header(buf, "x", size - 1)
    assert shape_bytes((10**12, 784), np.dtype(np.float64)) == 8 * 784 * 10**12


def test_a_check_runs_before_the_sizes_are_compared():
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    buf.seek(0)

    def refuse(shape, dtype):
        raise DataError(f"no {shape}")

    with pytest.raises(DataError, match="no \\(1000000000000,\\)"):
        read_header(buf, "x", 100, check=refuse)
