"""The SFU's native fan-out in tests: tests of it skip, naming what adds it, on a machine that could not build it."""

from __future__ import annotations

import pytest

from streaming.sfu import native


def require_native_fanout() -> native.NativeFanout:
    loaded = native.load()
    if loaded is None:
        pytest.skip(
            "the SFU's native fan-out is not built: make install builds it (needs a C compiler: apt-get install gcc)"
        )
    return loaded
