"""`manage.py lti_rotate_key`: a new signing key for LTI; the previous one stays published until the next rotation."""

from typing import Any

from django.core.management.base import BaseCommand

from lti.selectors import published_keys
from lti.services import tool_key_rotate


class Command(BaseCommand):
    help = "Make a new LTI signing key; keys older than the previous one stop being published."

    def handle(self, *args: Any, **options: Any) -> None:
        key = tool_key_rotate()
        published = ", ".join(published_keys().values_list("kid", flat=True))
        self.stdout.write(f"signing with {key.kid}; published: {published}")
