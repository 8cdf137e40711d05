"""With REDIS_URL set, the cache, the channel layer and Celery use the real Redis."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from courses.models import CoursePage
from courses.tasks import publish_scheduled_pages
from lms.celery import app
from tests import factories


def test_cache_is_redis(redis_url: str) -> None:
    import redis

    cache.set("corridor-test-key", {"value": 42}, 30)
    assert cache.get("corridor-test-key") == {"value": 42}
    assert redis.Redis.from_url(redis_url).exists(cache.make_and_validate_key("corridor-test-key"))
    cache.delete("corridor-test-key")


def test_channel_layer_carries_a_group_message_through_redis(redis_url: str) -> None:
    from channels_redis.pubsub import RedisPubSubChannelLayer

    # The pub/sub layer: the default one drops group messages over its capacity.
    layer = get_channel_layer()
    assert isinstance(layer, RedisPubSubChannelLayer)
    # A second, independent layer instance stands for another server process (same deployment prefix).
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    assert isinstance(config, dict)
    other = RedisPubSubChannelLayer(**config)

    async def roundtrip() -> dict[str, Any]:
        channel = await other.new_channel()
        await other.group_add("session-test", channel)
        await layer.group_send("session-test", {"type": "question.asked", "text": "你好?"})
        message = await asyncio.wait_for(other.receive(channel), timeout=10)
        await other.group_discard("session-test", channel)
        return message

    assert async_to_sync(roundtrip)() == {"type": "question.asked", "text": "你好?"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_celery_worker_runs_scheduled_publishing(redis_url: str) -> None:
    from celery.contrib.testing.worker import start_worker

    assert app.conf.task_always_eager is False
    catalogue = factories.site_catalogue()
    course = factories.CourseFactory.create(parent=catalogue, live=False, title="Worker published")
    when = timezone.now() - timedelta(seconds=1)
    course.go_live_at = when
    course.save_revision(approved_go_live_at=when).publish()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        publish_scheduled_pages.delay().get(timeout=30)
    assert CoursePage.objects.get(pk=course.pk).live
