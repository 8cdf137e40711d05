"""A person's own settings page: where they are, and which city's media server their live video comes through."""

import pytest
from django.test import Client

from lms.accounts.models import MediaRegion, Region
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/en/accounts/settings/"


def test_a_trainee_sets_their_region_and_the_nearest_media_server(client: Client) -> None:
    trainee = factories.trainee()
    client.force_login(trainee)
    page = client.get("/en/learning/")
    assert URL in page.content.decode()  # the header links to it
    form = client.get(URL)
    assert form.status_code == 200
    assert "Live video comes through" in form.content.decode()

    saved = client.post(URL, {"home_region": "chongqing", "media_region": "automatic"}, follow=True)
    assert "Your settings are saved." in saved.content.decode()
    trainee.refresh_from_db()
    assert (trainee.home_region, trainee.media_region) == (Region.CHONGQING, MediaRegion.AUTOMATIC)


def test_an_unknown_choice_is_refused_and_nothing_changes(client: Client) -> None:
    trainee = factories.trainee()
    client.force_login(trainee)
    refused = client.post(URL, {"home_region": "atlantis", "media_region": "automatic"})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    trainee.refresh_from_db()
    assert (trainee.home_region, trainee.media_region) == (Region.SINGAPORE, MediaRegion.HOME)


def test_the_settings_need_a_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_page_speaks_chinese(client: Client) -> None:
    client.force_login(factories.trainee())
    response = client.get("/zh-hans/accounts/settings/")
    assert response.status_code == 200
