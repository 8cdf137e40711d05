"""`manage.py issue_room_token ROOM`: a device token for a room's agent, printed once (only its hash is kept)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from classrooms.selectors import devices as device_selectors
from classrooms.services import devices


class Command(BaseCommand):
    help = (
        "Issue a device token for a room's agent (by room id, name or slug). It replaces the room's earlier tokens "
        "unless --keep-others is given; with --revoke, revoke them and issue none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("room", help="the room's id, name, or name as a slug")
        parser.add_argument("--keep-others", action="store_true", help="leave the room's earlier tokens valid")
        parser.add_argument("--revoke", action="store_true", help="revoke the room's tokens and issue none")

    def handle(self, *args: Any, **options: Any) -> None:
        room = device_selectors.room_by_ref(options["room"])
        if room is None:
            raise CommandError(f"No room {options['room']!r}.")
        if options["revoke"]:
            count = 0
            for token in device_selectors.room_tokens(room=room).filter(revoked_at__isnull=True):
                devices.device_token_revoke(token=token)
                count += 1
            self.stdout.write(f"Revoked {count} token(s) of {room}.")
            return
        issued = devices.device_token_issue(room=room, revoke_others=not options["keep_others"])
        self.stdout.write(f"Device token for the agent of {room} (shown once; only its hash is stored):")
        self.stdout.write(issued.secret)
        self.stdout.write(
            f"Run: CORRIDOR_ROOM_TOKEN=<token> python -m classrooms.agent --server https://<host> "
            f"--room {slugify(room.name)} --source capture"
        )
