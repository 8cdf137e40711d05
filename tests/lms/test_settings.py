"""The environment chooses each real service; with none set, the embedded default."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
    "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'storage': s.STORAGES['default']['BACKEND'], "
    "'cache': s.CACHES['default']['BACKEND'], 'region': s.CORRIDOR_REGION, 'hosts': s.ALLOWED_HOSTS, "
    "'sig': s.STORAGES['default'].get('OPTIONS', {}).get('signature_version'), "
    "'prefix': s.CHANNEL_LAYERS['default'].get('CONFIG', {}).get('prefix'), "
    "'pool': bool(s.DATABASES['default'].get('OPTIONS', {}).get('pool'))}))"
)


def settings_under(env: dict[str, str], *, unset: tuple[str, ...] = ()) -> dict:
    # The suite's own service choices (and, under pytest-xdist, its per-worker prefixes) stay out of the probe.
    chosen_by_the_suite = {
        "DATABASE_URL",
        "REDIS_URL",
        "AWS_STORAGE_BUCKET_NAME",
        "CHANNEL_LAYER_PREFIX",
        "CELERY_QUEUE",
    }
    clean = {k: v for k, v in os.environ.items() if k not in chosen_by_the_suite}
    clean.update(env, DJANGO_SETTINGS_MODULE="lms.settings")
    for name in unset:
        clean.pop(name, None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def start_up_error(env: dict[str, str], *, unset: tuple[str, ...] = ()) -> str:
    """What loading the settings says when it refuses to start ("" when it starts)."""
    try:
        settings_under(env, unset=unset)
    except subprocess.CalledProcessError as refused:
        return refused.stderr
    return ""


def test_embedded_default() -> None:
    config = settings_under({})
    assert config["db"] == "django.db.backends.sqlite3"
    assert config["layer"] == "channels.layers.InMemoryChannelLayer"
    assert config["eager"] is True
    assert config["storage"] == "django.core.files.storage.FileSystemStorage"
    assert config["cache"].endswith("LocMemCache")


def test_an_empty_variable_means_not_set() -> None:
    """`DATABASE_URL=` and the like give the embedded default (they crashed settings, and so mypy's
    Django plugin, which loads them the same way)."""
    # (An empty SECRET_KEY is refused as an unset one is: test_no_default_secret_key_outside_debug.)
    empty = ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "DEBUG", "ALLOWED_HOSTS")
    config = settings_under(dict.fromkeys((*empty, "CORRIDOR_REGION", "CHANNEL_LAYER_PREFIX"), ""))
    assert config == settings_under({})
    assert config["db"] == "django.db.backends.sqlite3"
    assert config["layer"] == "channels.layers.InMemoryChannelLayer"
    assert config["eager"] is True
    assert config["storage"] == "django.core.files.storage.FileSystemStorage"
    assert config["region"] == "singapore"
    redis = "redis://127.0.0.1:6379/0"
    with_redis = settings_under({"REDIS_URL": redis, "DATABASE_URL": "", "CHANNEL_LAYER_PREFIX": ""})
    assert with_redis["prefix"] == "corridor-embedded"


def test_an_empty_variable_means_not_set_for_an_sfu_node() -> None:
    from streaming.node.config import NodeConfig

    config = NodeConfig.from_env(
        {"REDIS_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": "", "SFU_NODE_TTL": "", "SFU_NODE_RECORDINGS": ""}
    )
    assert config.layer_prefix == "corridor-embedded"
    assert config.ttl == 5.0
    assert config.recordings is True


def test_real_services_from_the_environment() -> None:
    config = settings_under(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/corridor",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "AWS_STORAGE_BUCKET_NAME": "corridor-media",
            "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "CORRIDOR_REGION": "chongqing",
            "ALLOWED_HOSTS": "corridor.example,cq.corridor.example",
        }
    )
    assert config["db"] == "django.db.backends.postgresql"
    assert config["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert config["eager"] is False and config["broker"] == "redis://127.0.0.1:6379/0"
    assert config["storage"] == "storages.backends.s3.S3Storage"
    assert config["sig"] == "s3v4"
    assert config["cache"].endswith("RedisCache")
    assert config["region"] == "chongqing"
    assert config["hosts"] == ["corridor.example", "cq.corridor.example"]
    assert config["pool"] is True


def test_deployments_sharing_a_redis_do_not_share_channel_groups() -> None:
    redis = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    one = settings_under({**redis, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/corridor"})
    other = settings_under({**redis, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/corridor_staging"})
    named = settings_under({**redis, "CHANNEL_LAYER_PREFIX": "sg-prod"})
    assert one["prefix"] != other["prefix"]
    assert named["prefix"] == "sg-prod"


def test_suite_uses_the_database_the_environment_names(db) -> None:
    from django.db import connection

    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


@pytest.mark.parametrize("path", ["/healthz"])
def test_health(client, path: str) -> None:
    assert client.get(path).content == b"ok"


STRONG_KEY = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"
NO_DEFAULT = [
    pytest.param({}, ("SECRET_KEY",), "SECRET_KEY is not set", id="unset"),
    pytest.param({"SECRET_KEY": ""}, (), "SECRET_KEY is not set", id="empty"),
    pytest.param({"SECRET_KEY": "short-key"}, (), "SECRET_KEY is 9 characters long", id="short"),
    pytest.param({"SECRET_KEY": "a" * 60}, (), "fewer than 5 distinct", id="one-letter"),
    pytest.param(
        {"SECRET_KEY": "corridor-insecure-development-key-change-me"}, (), "published development key", id="old-default"
    ),
    pytest.param(
        {"SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, (), "published development key", id="startproject"
    ),
    pytest.param({"SECRET_KEY": "", "DEBUG": "false"}, (), "SECRET_KEY is not set", id="debug-false"),
]


@pytest.mark.parametrize(("env", "unset", "reason"), NO_DEFAULT)
def test_no_default_secret_key_outside_debug(env: dict[str, str], unset: tuple[str, ...], reason: str) -> None:
    """Outside DEBUG, start-up refuses a missing or weak key, naming the variable and how to make one."""
    error = start_up_error({"DEBUG": "", **env}, unset=unset)
    assert "ImproperlyConfigured" in error
    assert reason in error
    assert "secrets.token_urlsafe" in error


def test_a_strong_secret_key_starts_outside_debug() -> None:
    assert start_up_error({"DEBUG": "", "SECRET_KEY": STRONG_KEY}) == ""


def test_under_debug_an_unset_key_is_made_once_per_machine(tmp_path) -> None:
    from lms.settings.keys import secret_key

    key_file = tmp_path / "var" / "secret-key"
    first = secret_key("", debug=True, key_file=key_file)
    assert len(first) >= 50 and key_file.read_text().strip() == first
    assert secret_key("", debug=True, key_file=key_file) == first
    assert secret_key(STRONG_KEY, debug=True, key_file=key_file) == STRONG_KEY
    assert secret_key(STRONG_KEY, debug=False, key_file=tmp_path / "unused") == STRONG_KEY
    assert not (tmp_path / "unused").exists()


def test_no_setting_ships_a_default_secret() -> None:
    """Every secret the settings read comes from the environment: with none set, each is empty (or refused)."""
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'turn': s.TURN_SECRET, 'signing': s.CERTIFICATE_SIGNING_KEY, "
        "'aws': s.STORAGES['default'].get('OPTIONS', {}).get('secret_key')}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"TURN_SECRET", "CERTIFICATE_SIGNING_KEY"}}
    env.update(
        DJANGO_SETTINGS_MODULE="lms.settings", AWS_STORAGE_BUCKET_NAME="corridor-media", AWS_SECRET_ACCESS_KEY=""
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"turn": "", "signing": "", "aws": None}


@pytest.mark.django_db
def test_load_demo_refuses_outside_debug(settings) -> None:
    from django.core.management import CommandError, call_command

    from lms.accounts.models import User

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("load_demo")
    assert not User.objects.exists()
