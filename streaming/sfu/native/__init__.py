"""The SFU's native fan-out (fanout.c): header patch, SRTP and send for every steady leg of a track in one C call.

Forwarding is per packet per subscriber, and in Python each leg's packet costs several microseconds of interpreter
work around the few that SRTP and the `sendto` system call take. The C loop does the same three steps as
`PassthroughSender.send_serialized`, with the same SRTP context (libsrtp's `srtp_protect`, found in pylibsrtp's own
extension, so aiortc's retransmissions and our packets share one rollover counter) and the same socket (a dup of the
nominated candidate pair's UDP socket, so an ICE transport closing under us can never leave a dangling descriptor).

It is plain C called through cffi's ABI mode, so it needs a C compiler once (`make install` runs
`python -m streaming.sfu.native`) and no Python headers. Without the library, or with SFU_NATIVE_FANOUT=0, `load()`
returns None and every leg forwards in Python: same packets, more CPU.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any, Final

import cffi

logger = logging.getLogger(__name__)

SOURCE: Final = Path(__file__).with_name("fanout.c")
LIBRARY: Final = Path(__file__).with_name("libcorridor_fanout.so")
ABI_VERSION: Final = 1
ENABLE_SETTING: Final = "SFU_NATIVE_FANOUT"

_CDEF: Final = """
typedef struct {
    void *srtp;
    int fd;
    uint8_t addr[28];
    uint32_t addrlen;
    uint32_t ssrc;
    uint32_t payload_type;
    uint32_t seq_offset;
    uint32_t ts_offset;
    uint32_t guard_seq;
    uint32_t guard_left;
    uint64_t packets;
    uint64_t payload_bytes;
    uint64_t wire_bytes;
    uint64_t dropped;
    uint64_t failed;
    int32_t last_errno;
    uint32_t has_last;
    uint32_t last_seq;
    uint32_t last_ts;
    uint64_t last_ntp;
} corridor_leg;
int corridor_fanout_abi(void);
int corridor_leg_size(void);
int corridor_fanout(void *protect, const char *wire, int length, int marker, uint32_t sequence_number,
                    uint32_t timestamp, int payload_size, uint64_t ntp_time, corridor_leg *legs, int count);
"""


class NativeFanout:
    """The loaded library: leg tables are `new_legs(n)` arrays of `corridor_leg`, sent to by `fanout`."""

    def __init__(self, ffi: cffi.FFI, lib: Any, protect: Any) -> None:
        self.ffi = ffi
        self.lib = lib
        self.protect = protect

    def new_legs(self, count: int) -> Any:
        return self.ffi.new("corridor_leg[]", count)

    def srtp_context(self, session: Any) -> Any:
        """The srtp_t inside a pylibsrtp Session (what `Session.protect` passes to libsrtp)."""
        from pylibsrtp._binding import ffi as srtp_ffi

        address = int(srtp_ffi.cast("uintptr_t", session._srtp[0]))
        return self.ffi.cast("void *", address)

    def set_address(self, entry: Any, family: int, address: tuple[Any, ...]) -> None:
        """Write a socket address (as Python's socket module gives it) into a leg's sockaddr."""
        raw = sockaddr_bytes(family, address)
        self.ffi.memmove(entry.addr, raw, len(raw))
        entry.addrlen = len(raw)


def sockaddr_bytes(family: int, address: tuple[Any, ...]) -> bytes:
    """The C struct sockaddr_in / sockaddr_in6 for `address` (Linux layout: family in host order)."""
    if family == socket.AF_INET:
        host, port = address[0], address[1]
        return (
            family.to_bytes(2, sys.byteorder)
            + int(port).to_bytes(2, "big")
            + socket.inet_pton(socket.AF_INET, host)
            + bytes(8)
        )
    if family == socket.AF_INET6:
        host, port = address[0], address[1]
        flowinfo = address[2] if len(address) > 2 else 0
        scope_id = address[3] if len(address) > 3 else 0
        return (
            family.to_bytes(2, sys.byteorder)
            + int(port).to_bytes(2, "big")
            + int(flowinfo).to_bytes(4, "big")
            + socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0])
            + int(scope_id).to_bytes(4, sys.byteorder)
        )
    raise ValueError(f"unsupported address family {family}")


def enabled() -> bool:
    return os.environ.get("SFU_NATIVE_FANOUT", "1").strip().lower() not in {"0", "false", "no", "off"}


@cache
def load() -> NativeFanout | None:
    """The native fan-out, or None (not built, stale, disabled, or built for another ABI): legs then use Python."""
    if not enabled():
        return None
    if not LIBRARY.exists() or LIBRARY.stat().st_mtime < SOURCE.stat().st_mtime:
        logger.info("native fan-out not built (python -m streaming.sfu.native builds it): forwarding in Python")
        return None
    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    try:
        lib = ffi.dlopen(str(LIBRARY))
    except OSError as error:
        logger.warning("native fan-out library failed to load (%s): forwarding in Python", error)
        return None
    if lib.corridor_fanout_abi() != ABI_VERSION or lib.corridor_leg_size() != ffi.sizeof("corridor_leg"):
        logger.warning("native fan-out library is from another version: rebuild it (python -m streaming.sfu.native)")
        return None
    from pylibsrtp._binding import ffi as srtp_ffi
    from pylibsrtp._binding import lib as srtp_lib

    address = int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect")))
    return NativeFanout(ffi, lib, ffi.cast("void *", address))


def build(compiler: str | None = None) -> Path | None:
    """Compile fanout.c into LIBRARY with the system C compiler; None (and one line saying why) if there is none."""
    compiler = compiler or shutil.which("cc") or shutil.which("gcc")
    if compiler is None or shutil.which(compiler) is None:
        print(
            "native SFU fan-out not built: no C compiler (apt-get install gcc); the SFU forwards in Python",
            file=sys.stderr,
        )
        return None
    target = LIBRARY.with_suffix(".so.tmp")
    command = [compiler, "-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-o", str(target), str(SOURCE)]
    # The compiler is the one the person building chose (CC) or the system's: no untrusted input reaches it.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        print(f"native SFU fan-out failed to build: {result.stderr.strip()}", file=sys.stderr)
        return None
    target.replace(LIBRARY)
    load.cache_clear()
    return LIBRARY
