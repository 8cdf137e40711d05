"""lms/errors.py: a refusal goes back to the page a form names in `next` only when that page is on this site."""

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from certificates import services
from certificates.models import CertificateState
from tests.support.certificates import course_with_rule

pytestmark = pytest.mark.django_db


def _refused_revocation(next_url: str) -> Any:
    setup = course_with_rule()
    certificate = services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)
    client = Client()
    client.force_login(setup.admin)
    response = client.post(reverse("certificates:revoke", args=[certificate.code]), {"reason": "", "next": next_url})
    certificate.refresh_from_db()
    assert certificate.state == CertificateState.ISSUED
    return response


def test_a_refusal_returns_to_the_form_on_this_site_with_the_message() -> None:
    response = _refused_revocation("/en/certificates/verify/")
    assert response.status_code == 303
    assert response["Location"] == "/en/certificates/verify/"
    assert any("Say why" in str(message) for message in get_messages(response.wsgi_request))


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "http:\\\\evil.example", "javascript:alert(1)"]
)
def test_a_refusal_never_sends_the_browser_to_another_site(next_url: str) -> None:
    response = _refused_revocation(next_url)
    assert response.status_code == 400
    assert "Say why the certificate is revoked" in response.content.decode()


def test_the_error_page_goes_back_to_the_page_on_this_site_the_person_came_from() -> None:
    """A plain link, not `javascript:history.back()`, which the Content Security Policy would block."""
    setup = course_with_rule()
    certificate = services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)
    client = Client()
    client.force_login(setup.admin)
    url = reverse("certificates:revoke", args=[certificate.code])
    came_from = "http://testserver/en/certificates/verify/"
    page = client.post(url, {"reason": ""}, HTTP_REFERER=came_from).content.decode()
    assert f'href="{came_from}"' in page
    elsewhere = client.post(url, {"reason": ""}, HTTP_REFERER="https://evil.example/").content.decode()
    assert 'href="https://evil.example/"' not in elsewhere
    assert 'href="/">' in elsewhere
    assert "javascript:" not in elsewhere
