"""How much deltanet lets an input claim: memory, pixels, header bytes; and BLAS threads.

Every size a file or a setting announces is checked against these bounds *before*
anything of that size is allocated or read, so a hostile or mistaken input (a header
claiming 10¹² rows, ``--layers 784,1000000,1000000,10``, ``/dev/zero``) is one clear
error instead of the kernel killing the process.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

from deltanet.errors import UserError

# a picture of a digit: far more than any camera takes, far less than a decompression bomb
MAX_PIXELS = 50_000_000
# the JSON header of a safetensors or .npy file: deltanet's own are a few kilobytes
MAX_HEADER_BYTES = 16 * 2**20
# one request to `deltanet serve`: the page's drawings are a few kilobytes of PNG
MAX_REQUEST_BYTES = 2**20
# a picture sent to `deltanet serve`: 2048×2048 (a 1 MB JPEG of a photo is rarely larger);
# a decompression bomb announces far more and is refused from its header
MAX_REQUEST_PIXELS = 2048 * 2048


def physical_memory() -> int | None:
    """Bytes of RAM in this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(nbytes: int, what: str, error: type[UserError] = UserError) -> None:
    """Raise ``error`` if ``what`` would need ``nbytes``, more than this machine's RAM."""
    ram = physical_memory()
    if ram is not None and nbytes > ram:
        raise error(f"{what} would need {_size(nbytes)}, more than this machine's {_size(ram)}")


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:,.0f} {unit}" if unit == "bytes" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")


def blas_threads(n: int | None) -> AbstractContextManager:
    """A context limiting NumPy's BLAS to ``n`` threads (None: leave its own choice)."""
    if n is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")
