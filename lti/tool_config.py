"""pylti1p3's tool configuration, read from the database: the one place that library meets Corridor's models.

Every issuer may have several client ids (several registrations of Corridor in one LMS), so pylti1p3 always asks
`find_registration_by_params`; a login request without `client_id` (optional in LTI 1.3) is accepted when the issuer
has a single registration."""

from typing import Any

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.tool_config import ToolConfAbstract

from lti import selectors
from lti.models import Platform, ToolKey


def registration_of(*, platform: Platform, key: ToolKey) -> Registration:
    registration = (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_tool_private_key(key.private_key_pem)
        .set_tool_public_key(key.public_key_pem)
    )
    if platform.key_set:
        registration.set_key_set(platform.key_set)
    else:
        registration.set_key_set_url(platform.key_set_url)
    return registration


class CorridorToolConf(ToolConfAbstract[Request]):
    """Registrations from `lti.models.Platform`, signed with Corridor's current key (`key`)."""

    def __init__(self, *, key: ToolKey) -> None:
        self.key = key
        # The platform a launch or login matched, for the view once pylti1p3 has validated it.
        self.platform: Platform | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _platform(self, iss: str, client_id: str | None) -> Platform | None:
        platform = selectors.platform_for(issuer=iss, client_id=client_id)
        if platform is not None:
            self.platform = platform
        return platform

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return self.find_registration_by_params(iss, None, *args, **kwargs)  # type: ignore[arg-type]

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any) -> Registration:
        platform = self._platform(iss, client_id)
        # pylti1p3 takes a falsy registration for "not registered" (and says so in its refusal).
        return registration_of(platform=platform, key=self.key) if platform else None  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)  # type: ignore[arg-type]

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        platform = self._platform(iss, client_id)
        if platform is None or deployment_id not in platform.deployment_id_list():
            return None
        return Deployment().set_deployment_id(deployment_id)
