from typing import Any

from django.core.management.base import BaseCommand

from lms.demo import DEMO_PASSWORD, DEMO_USERS, load_demo


class Command(BaseCommand):
    help = "Load the bilingual demo (idempotent): users of every role and a catalogue in English and Chinese."

    def handle(self, *args: Any, **options: Any) -> None:
        load_demo()
        self.stdout.write(self.style.SUCCESS("Demo loaded. Sign in at /en/accounts/login/ with any of:"))
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec.role.name.lower():<14} {spec.email:<32} password: {DEMO_PASSWORD}")
