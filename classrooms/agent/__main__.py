"""`python -m classrooms.agent`: run a room's agent until interrupted. See README ("Room agents")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from classrooms.agent.client import AgentRefused, RoomAgent, synthetic_defaults, token_from
from classrooms.agent.publisher import Endpoint
from classrooms.agent.sources import TINTS, SourceOptions, source_factory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m classrooms.agent",
        description="Publish a room's camera and microphone into its live session, report health, obey operators.",
    )
    parser.add_argument("--server", required=True, help="the Corridor server, e.g. https://corridor.example")
    parser.add_argument("--room", required=True, help="the room's id, or its name as a slug (marina-bay-studio)")
    parser.add_argument("--token", help="the room's device token (else --token-file, else $CORRIDOR_ROOM_TOKEN)")
    parser.add_argument("--token-file", help="a file holding the token (or the demo's var/room-tokens.json)")
    parser.add_argument(
        "--source",
        choices=["synthetic", "capture", "file"],
        default="synthetic",
        help="synthetic: a moving test picture and a tone; capture: devices through PyAV; file: a file, looped",
    )
    parser.add_argument("--video-device", default="/dev/video0", help="capture: the camera (default /dev/video0)")
    parser.add_argument("--video-format", default="v4l2", help="capture: FFmpeg's input format for it (v4l2)")
    parser.add_argument("--audio-device", default="default", help="capture: the microphone ('' for none)")
    parser.add_argument("--audio-format", default="alsa", help="capture: FFmpeg's input format for it (alsa)")
    parser.add_argument("--file", help="file: a video (and audio) file to play in a loop")
    parser.add_argument("--size", default="640x480", help="picture size, WIDTHxHEIGHT (default 640x480)")
    parser.add_argument("--fps", type=int, default=30, help="capture: frames per second asked of the camera")
    parser.add_argument("--tone-hz", type=float, help="synthetic: the tone's pitch in Hz (default 440)")
    parser.add_argument("--tint", choices=sorted(TINTS), help="synthetic: tint the test picture, to tell rooms apart")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(agent: RoomAgent) -> None:
    """Run the agent; SIGTERM (as `make run` and systemd send) stops it cleanly, like Ctrl+C."""
    task = asyncio.ensure_future(agent.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s agent[{args.room}] %(levelname)s %(message)s",
    )
    if not args.verbose:
        for noisy in ("aioice", "aiortc", "websockets"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    width, _, height = args.size.partition("x")
    options = SourceOptions(
        kind=args.source,
        width=int(width),
        height=int(height),
        fps=args.fps,
        video_device=args.video_device,
        video_format=args.video_format,
        audio_device=args.audio_device or None,
        audio_format=args.audio_format,
        file=args.file,
        **synthetic_defaults(token_file=args.token_file, room=args.room, tone_hz=args.tone_hz, tint=args.tint),
    )
    token = token_from(token=args.token, token_file=args.token_file, room=args.room)
    agent = RoomAgent(
        endpoint=Endpoint(server=args.server, token=token),
        room=args.room,
        options=options,
        sources=source_factory(options),
    )
    try:
        asyncio.run(serve(agent))
    except AgentRefused as refused:
        logging.getLogger("classrooms.agent").error("%s: check the token and the room", refused)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
