from .env import REDIS_URL

# Live sessions fan out through one hub per server process (classrooms/fanout.py),
# which listens on the layer once per session. On Redis that is the pub/sub layer:
# the default RedisChannelLayer keeps per-channel lists capped at `capacity` (100)
# and drops a group message over it, logging only at INFO: a lost broadcast would
# be a lost question. Pub/sub has no capacity to overflow, and a socket that
# misses an event anyway (its process was cut off from Redis) catches up from the
# database with `sync`.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # In memory, group_send also drops a message over capacity, silently; the hub's
    # channel takes every event of a session, so give it room for a busy minute.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10_000, "expiry": 60}}
    }
