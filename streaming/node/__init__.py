"""SFU nodes: the Sfu in processes of its own (`python -m streaming.node`), coordinated through Redis.

With SFU_MODE "nodes" the app's media sockets do not run the Sfu. Each node process runs a `MediaHub` (the same
one `make run` runs in-process) and advertises itself in Redis; a session is pinned to one node, so everyone in it
meets on the same Sfu, and sessions spread over the nodes (least loaded first).

- `config`: the node's settings, read from the environment (no Django).
- `registry`: the Redis keys: node records (heartbeat with expiry) and session pins.
- `wire`: the messages between app processes and nodes, and their validation.
- `server`: the node process: requests in, the MediaHub, replies and socket frames out.
- `client`: `RemoteMediaHub`, the app side, a `streaming.signaling.MediaPlane` like the local MediaHub.

Transport: the Channels layer (channels_redis's pub/sub layer, the one the app already uses), driven without Django.
A media socket is already a channel on it, so a node sends a socket its frames (`media.frame`) by channel name, and
each app process reads the node's replies on one channel of its own. Pub/sub delivers only to listeners: a request
to a dead node is lost rather than queued for a node that may never come back, which is what a request with a
timeout wants (the app answers `sfu_unavailable`), and nothing piles up in Redis. Streams would add persistence
and consumer groups that a request/reply with a timeout does not need.
"""
