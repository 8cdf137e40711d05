import pytest
from django.contrib.auth.models import Group
from django.test import Client
from wagtail.models import GroupPagePermission

from lms.accounts.models import User
from lms.accounts.roles import Role, user_roles
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_four_roles_exist_with_their_permissions() -> None:
    names = set(Group.objects.values_list("name", flat=True))
    assert {role.value for role in Role} <= names
    instructors = Group.objects.get(name=Role.INSTRUCTOR.value)
    administrators = Group.objects.get(name=Role.ADMINISTRATOR.value)
    assert instructors.permissions.filter(codename="access_admin").exists()
    assert not Group.objects.get(name=Role.TRAINEE.value).permissions.exists()
    page_permissions = GroupPagePermission.objects.values_list("permission__codename", flat=True)
    assert set(page_permissions.filter(group=instructors)) == {
        "add_page",
        "change_page",
    }
    assert "publish_page" in set(page_permissions.filter(group=administrators))


def test_sign_in_with_email_lands_a_trainee_in_their_language(client: Client) -> None:
    factories.trainee(email="mei@corridor.test", preferred_language="zh-hans")
    response = client.post(
        "/en/accounts/login/", {"username": "MEI@corridor.test".lower(), "password": factories.PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/zh-hans/learning/"
    assert "我的学习" in response.content.decode()


def test_wrong_password_is_refused_with_a_message(client: Client) -> None:
    factories.trainee(email="mei@corridor.test")
    response = client.post("/en/accounts/login/", {"username": "mei@corridor.test", "password": "nope"})
    assert response.status_code == 200
    assert "Please try again" in response.content.decode()


def test_instructors_land_in_the_authoring_admin(client: Client) -> None:
    factories.instructor(email="wei@corridor.test")
    response = client.post("/en/accounts/login/", {"username": "wei@corridor.test", "password": factories.PASSWORD})
    assert client.get(response["Location"])["Location"] == "/admin/"


def test_user_model_has_region_and_language() -> None:
    user = User.objects.create_user("Someone@Corridor.TEST", "pw-123456789", home_region="chongqing")
    assert user.email == "someone@corridor.test"
    assert user.home_region == "chongqing"
    assert user.preferred_language == "en"
    assert user_roles(user) == frozenset()
    admin = User.objects.create_superuser("root@corridor.test", "pw-123456789")
    assert Role.ADMINISTRATOR in user_roles(admin)
