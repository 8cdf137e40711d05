"""The one door from an SFU node process (`python -m streaming.node`) to Django: its recording sink.

A node records through `streaming.live_recordings`, which needs Django's ORM and storage. The node's entry
point imports this module only when recording is on (SFU_NODE_RECORDINGS, default on), so the media path itself
(streaming/sfu, streaming/node) stays Django-free; the import-linter contract names this one import.
"""

from __future__ import annotations

import logging
import os

from streaming.signaling import SessionRecordings


def node_recordings() -> SessionRecordings:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.settings")
    import django

    # django.setup() applies the settings' LOGGING, which replaces the root logger's handler and level: the
    # node's own (--log-level, its format) would be lost, and with them its INFO lines. Keep them.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    django.setup()
    root.handlers[:] = handlers
    root.setLevel(level)
    from streaming.live_recordings import LiveRecordings

    return LiveRecordings()
