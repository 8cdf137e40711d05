"""The room agent: `python -m classrooms.agent --server URL --room ROOM --token TOKEN`.

A small asyncio client, one per room, that publishes the room's camera and microphone into the room's live session
and obeys operators' start and stop. It imports no Django: it talks to the server over websockets only.
"""
