"""Fixtures for streaming tests: a real coturn (Debian's `turnserver`), synthetic encoded media, S3 over HTTP."""

from __future__ import annotations

import array
import math
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import pytest
from aioice import stun

from streaming.recording import RecordingFile

# A live session with its instructor, trainee and outsider, for the media signaling socket.
from tests.classrooms.conftest import live  # noqa: F401

# The S3 endpoint (moto's server over HTTP) and bucket-backed storage of tests/lms, for recording uploads.
from tests.lms.test_storage_s3 import s3_endpoint, s3_storage  # noqa: F401

TURNSERVER = "/usr/bin/turnserver"


class CoturnServer(NamedTuple):
    """What a test needs to hand out credentials: unpacks as `urls, secret = coturn`."""

    urls: list[str]
    secret: str


def free_udp_and_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def stun_answers(port: int, *, timeout: float = 0.2) -> bool:
    """Whether a STUN Binding request to 127.0.0.1:`port` gets a response (coturn is up)."""
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return stun.parse_message(data).transaction_id == request.transaction_id


@pytest.fixture(scope="session")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoturnServer]:
    """A coturn on 127.0.0.1 with `use-auth-secret`, relaying between loopback peers; stopped afterwards.

    Yields (urls, secret): mint credentials with `streaming.turn.turn_credentials(secret=secret, ...)`.
    Relay-only browsers can use it too (loopback peers are allowed, which production must not do).
    """
    turnserver = TURNSERVER if Path(TURNSERVER).exists() else shutil.which("turnserver")
    if turnserver is None:
        pytest.skip("coturn is not installed (/usr/bin/turnserver): apt-get install coturn")
    workdir = tmp_path_factory.mktemp("coturn")
    port = free_udp_and_tcp_port()
    secret = secrets.token_urlsafe(24)
    log_path = workdir / "turnserver.log"
    command = [
        turnserver,
        "-n",  # no configuration file: everything is on the command line
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        "--realm=corridor",
        "--fingerprint",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--no-tcp-relay",
        "--allow-loopback-peers",
        f"--userdb={workdir / 'turndb'}",
        f"--pidfile={workdir / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
        "--verbose",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 10
        while not stun_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start:\n{log_path.read_text(errors='replace')}")
        yield CoturnServer(urls=[f"turn:127.0.0.1:{port}?transport=udp"], secret=secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- synthetic encoded media, as the SFU would hand it to a recorder -------------------------------


def encoded_vp8(frames: int, *, size: tuple[int, int] = (320, 240), gop: int = 30) -> list[tuple[bytes, bool]]:
    """`frames` VP8 frames (a moving bar on a changing background), a keyframe every `gop` frames."""
    import av

    width, height = size
    encoder = av.CodecContext.create("libvpx", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.gop_size = gop
    encoder.bit_rate = 300_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[bytes, bool]] = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = bytearray([(index * 7) % 256]) * frame.planes[0].buffer_size
        row = (index * 3 % height) * frame.planes[0].line_size
        luma[row : row + width] = b"\xff" * width
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts = index
        out += [(bytes(packet), packet.is_keyframe) for packet in encoder.encode(frame)]
    out += [(bytes(packet), packet.is_keyframe) for packet in encoder.encode(None)]
    return out


def encoded_opus(packets: int) -> list[bytes]:
    """`packets` Opus packets of 20 ms (a 440 Hz tone, stereo, 48 kHz)."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"
    out: list[bytes] = []
    for index in range(packets + 1):  # one more: the encoder holds back its look-ahead
        samples = array.array(
            "h",
            (int(8000 * math.sin(2 * math.pi * 440 * (n + index * 960) / 48_000)) for n in range(960) for _ in "LR"),
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = 48_000, index * 960
        out += [bytes(packet) for packet in encoder.encode(frame)]
    return out[:packets]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record_synthetic(
    path: Path,
    *,
    seconds: float = 3.0,
    video_start_frame: int = 0,
    video_ts_base: int = 2**32 - 30_000,
    audio_ts_base: int = 123_456,
) -> RecordingFile:
    """Feed `seconds` of 30 fps VP8 and 20 ms Opus, interleaved as they would arrive, into a WebmRecorder.

    The video's RTP timestamps wrap past 2**32 a third of a second in (by default).
    Video frames before `video_start_frame` are not sent (the publisher joined late).
    """
    from streaming.recording import WebmRecorder

    video = encoded_vp8(round(seconds * 30))
    audio = encoded_opus(round(seconds * 50))
    clock = FakeClock()
    start = clock.now
    recorder = WebmRecorder(path, clock=clock)
    arrivals: list[tuple[float, str, int]] = [(i / 30, "video", i) for i in range(video_start_frame, len(video))]
    arrivals += [(i / 50, "audio", i) for i in range(len(audio))]
    for at, kind, index in sorted(arrivals):
        clock.now = start + at + 0.01  # the network's delay
        if kind == "video":
            payload, keyframe = video[index]
            recorder.write("video", payload, (video_ts_base + index * 3000) % 2**32, 90_000, keyframe)
        else:
            recorder.write("audio", audio[index], (audio_ts_base + index * 960) % 2**32, 48_000, False)
    return recorder.close()


@pytest.fixture
def tasks_in_process() -> Iterator[None]:
    """Run Celery tasks where they are sent, as the embedded default does, even with a broker.

    These tests are about the upload itself (storage, checksums, retries), not about the queue:
    a real worker on Redis is tested in tests/lms/test_redis_services.py.
    """
    from lms.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before
