from typing import Any

from django.conf import settings
from django.http import HttpRequest

from lms.accounts.roles import Role, user_roles


def corridor(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    roles = user_roles(user) if user is not None and user.is_authenticated else frozenset()
    return {
        "corridor_region": settings.CORRIDOR_REGION,
        "user_roles": roles,
        "user_can_edit_content": bool(roles & {Role.INSTRUCTOR, Role.ADMINISTRATOR}),
        "user_is_administrator": Role.ADMINISTRATOR in roles,
    }
