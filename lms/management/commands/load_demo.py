from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from certificates.demo import load_certificate_demo
from exams.console_demo import load_console_demo
from exams.demo import load_exam_demo, load_marking_demo
from internships.demo import COMPLETED_SUPERVISOR, SUPERVISOR_EMAIL, load_internship_demo
from lms.demo import DEMO_PASSWORD, DEMO_USERS, load_demo, write_room_tokens


class Command(BaseCommand):
    help = "Load the bilingual demo (idempotent): users of every role and a catalogue in English and Chinese."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--room-tokens",
            metavar="PATH",
            help="issue the demo rooms' agent tokens and write them to PATH (make run: var/room-tokens.json)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            # Every demo user shares one published password: on a real deployment that is an open door.
            raise CommandError(
                "load_demo runs only with DEBUG=true: its users share a published password. "
                "On a deployment, create the first administrator with `manage.py createsuperuser`."
            )
        users = load_demo()
        load_certificate_demo(
            administrator=users["admin@corridor.example"], instructor=users["instructor@corridor.example"]
        )
        load_internship_demo(administrator=users["admin@corridor.example"])
        load_exam_demo()
        load_console_demo()
        load_marking_demo()
        self.stdout.write(self.style.SUCCESS("Demo loaded. Sign in at /en/accounts/login/ with any of:"))
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.role.name.lower():<14} {spec.email:<32} password: {DEMO_PASSWORD}")
        for email in (SUPERVISOR_EMAIL, COMPLETED_SUPERVISOR[0]):  # the host companies' supervisors
            self.stdout.write(f"  {'supervisor':<14} {email:<32} password: {DEMO_PASSWORD}")
        if options["room_tokens"]:
            path = Path(options["room_tokens"])
            rooms = write_room_tokens(path)
            self.stdout.write(f"Room agent tokens for {', '.join(r['name'] for r in rooms)} are in {path}.")
