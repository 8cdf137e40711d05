"""xAPI: Corridor's learning events as statements, queued in the database and sent in batches to a learning record
store (docs/xapi.md). In the shared core, so that every app queues through `lms.xapi.services` without breaking the
layers; it imports no app (its builders take plain values)."""
