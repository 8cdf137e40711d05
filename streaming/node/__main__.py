"""`python -m streaming.node`: one SFU node (settings from the environment: streaming/node/config.py).

It sets up Django only to record (streaming/node_recordings.py, behind the MediaHub's SessionRecordings), unless
SFU_NODE_RECORDINGS=0; the media path stays Django-free. SIGTERM or SIGINT stops it cleanly: out of Redis first,
then every peer connection closed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal

from redis.asyncio import Redis

from streaming.node.config import NodeConfig
from streaming.node.server import SfuNode
from streaming.signaling import SessionRecordings


def _recordings() -> SessionRecordings:
    from streaming.node_recordings import node_recordings  # Django, only when this node records

    return node_recordings()


async def serve(config: NodeConfig) -> None:
    from channels_redis.pubsub import RedisPubSubChannelLayer

    layer = RedisPubSubChannelLayer(hosts=[config.redis_url], prefix=config.layer_prefix)
    redis = Redis.from_url(config.redis_url)
    node = SfuNode(config=config, layer=layer, redis=redis, recordings=_recordings() if config.recordings else None)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.stop)
    # What start-up made (modules, aiortc's codecs, the hub) lives as long as the process: out of the collector's
    # full passes, which would otherwise walk it all again in the middle of a fan-out.
    gc.collect()
    gc.freeze()
    try:
        await node.run()
    finally:
        await layer.flush()
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m streaming.node", description=__doc__.splitlines()[0])
    parser.add_argument("--node-id", help="this node's id (SFU_NODE_ID; default host-pid-random)")
    parser.add_argument("--address", help="the address advertised in Redis (SFU_NODE_ADDRESS)")
    parser.add_argument("--log-level", default=os.environ.get("SFU_NODE_LOG_LEVEL") or "INFO")
    options = parser.parse_args()
    environ = dict(os.environ)
    if options.node_id:
        environ["SFU_NODE_ID"] = options.node_id
    if options.address:
        environ["SFU_NODE_ADDRESS"] = options.address
    logging.basicConfig(level=options.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aioice").setLevel(logging.WARNING)  # a line per ICE check otherwise
    asyncio.run(serve(NodeConfig.from_env(environ)))


if __name__ == "__main__":
    main()
