from urllib.parse import urlsplit

from .env import REDIS_URL, env

# Live sessions fan out through one hub per server process (classrooms/fanout.py),
# which listens on the layer once per session. On Redis that is the pub/sub layer:
# the default RedisChannelLayer keeps per-channel lists capped at `capacity` (100)
# and drops a group message over it, logging only at INFO: a lost broadcast would
# be a lost question. Pub/sub has no capacity to overflow, and a socket that
# misses an event anyway (its process was cut off from Redis) catches up from the
# database with `sync`.
#
# Group and channel names carry a per-deployment prefix: two deployments (or a test run
# beside a benchmark) sharing one Redis must not hear each other's sessions, whose ids
# overlap. By default the prefix names the database, which is what separates them anyway.
CHANNEL_LAYER_PREFIX: str = env.str(
    "CHANNEL_LAYER_PREFIX",
    default="corridor-" + (urlsplit(env.str("DATABASE_URL", default="")).path.strip("/") or "embedded"),
)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYER_PREFIX},
        }
    }
else:
    # In memory, group_send also drops a message over capacity, silently; the hub's
    # channel takes every event of a session, so give it room for a busy minute.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10_000, "expiry": 60}}
    }

# Live and media sockets one person may hold open at once, across every app process (lms/socket_quota.py): a live
# page opens two (live and media), so this is six pages; more are refused with close code 4429.
SOCKETS_PER_USER: int = env.int("SOCKETS_PER_USER", default=12)
