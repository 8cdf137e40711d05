"""Corridor's LTI keys (published as JWKS, rotated by a command) and the platforms administrators register."""

import time
from io import StringIO

import jwt
import pytest
from django.core.management import call_command
from django.test import Client

from lti.models import Platform as PlatformRegistration
from lti.models import ToolKey
from lti.services import tool_key_current
from tests import factories
from tests.support.lti_platform import Platform, _PlatformConf

pytestmark = pytest.mark.django_db


def published_kids(client: Client) -> list[str]:
    response = client.get("/lti/jwks/")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


def signed_by_corridor(key: ToolKey) -> str:
    now = int(time.time())
    claims = {"iss": "corridor-client-1", "sub": "corridor-client-1", "aud": "x", "iat": now, "exp": now + 60}
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})


def verified_by_the_platform(token: str, jwks: dict) -> dict:
    """The platform implementation checks Corridor's signature against Corridor's published key set."""
    platform = Platform(tool_base_url="http://testserver")
    conf = _PlatformConf(registration=platform._registration().set_tool_key_set(jwks))
    return conf.tool_validate_and_decode(token)


def test_the_key_set_publishes_the_signing_key_and_a_platform_verifies_with_it(client: Client) -> None:
    key = tool_key_current()
    jwks = client.get("/lti/jwks/").json()
    assert [k["kid"] for k in jwks["keys"]] == [key.kid]
    assert jwks["keys"][0]["alg"] == "RS256" and "d" not in jwks["keys"][0]  # public only
    assert verified_by_the_platform(signed_by_corridor(key), jwks)["sub"] == "corridor-client-1"


def test_rotation_signs_with_the_new_key_and_keeps_the_previous_one_published(client: Client) -> None:
    first = tool_key_current()
    out = StringIO()
    call_command("lti_rotate_key", stdout=out)
    second = tool_key_current()
    assert second.kid != first.kid
    assert f"signing with {second.kid}" in out.getvalue()
    assert published_kids(client) == [second.kid, first.kid]
    # What the previous key signed still verifies while platforms refresh their copy of the set.
    assert verified_by_the_platform(signed_by_corridor(first), client.get("/lti/jwks/").json())
    call_command("lti_rotate_key", stdout=StringIO())
    third = tool_key_current()
    assert published_kids(client) == [third.kid, second.kid]
    jwks = client.get("/lti/jwks/").json()
    with pytest.raises(Exception, match="Unable to find public key"):
        verified_by_the_platform(signed_by_corridor(first), jwks)


def test_administrators_register_a_platform_in_the_admin() -> None:
    admin = Client()
    admin.force_login(factories.administrator())
    assert admin.get("/admin/snippets/lti/platform/").status_code == 200
    platform = Platform(tool_base_url="http://testserver")
    created = admin.post(
        "/admin/snippets/lti/platform/add/",
        {
            "name": "Chongqing Polytechnic Canvas",
            "issuer": "https://canvas.cq-poly.example.cn",
            "client_id": "10000000000042",
            "deployment_ids": "1:abc\n2:def\n",
            "auth_login_url": "https://canvas.cq-poly.example.cn/api/lti/authorize_redirect",
            "auth_token_url": "https://canvas.cq-poly.example.cn/login/oauth2/token",
            "key_set_url": "https://canvas.cq-poly.example.cn/api/lti/security/jwks",
            "key_set": "",
        },
    )
    assert created.status_code == 302, created.content.decode()[:3000]
    registered = PlatformRegistration.objects.get(client_id="10000000000042")
    assert registered.deployment_id_list() == ["1:abc", "2:def"]
    # Neither a key set URL nor a key set: the form says what is missing and nothing is saved.
    refused = admin.post(
        "/admin/snippets/lti/platform/add/",
        {
            "name": "No keys",
            "issuer": platform.issuer,
            "client_id": "c",
            "deployment_ids": "d",
            "auth_login_url": "https://x.example/auth",
            "auth_token_url": "https://x.example/token",
            "key_set_url": "",
            "key_set": "",
        },
    )
    assert refused.status_code == 200
    assert "key set URL or paste its public key set" in refused.content.decode()
    assert not PlatformRegistration.objects.filter(name="No keys").exists()


def test_trainees_and_instructors_have_no_platform_admin() -> None:
    for person in (factories.trainee(), factories.instructor()):
        client = Client()
        client.force_login(person)
        assert client.get("/admin/snippets/lti/platform/").status_code in (302, 403)
