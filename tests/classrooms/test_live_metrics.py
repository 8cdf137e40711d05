"""/metrics counts a live session's sockets and people, its joins, and times the fan-out of its events."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def scrape() -> dict[str, float]:
    with override_settings(DEBUG=True):
        response = Client().get("/metrics")
    assert response.status_code == 200
    return {
        sample.name + repr(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


async def joined(connect: Any, user: Any, session: Any) -> Any:
    connected, _, client = await connect(user, session.pk)
    assert connected
    assert (await client.receive())["type"] == "welcome"
    return client


async def test_sockets_participants_joins_and_fanout(connect: Any, live: Any) -> None:
    session = str(live.session.pk)
    sockets = "corridor_live_sockets" + repr([("session", session)])
    people = "corridor_live_participants" + repr([("session", session)])
    before = await sync_to_async(scrape)()
    assert sockets not in before

    trainee = await joined(connect, live.trainee, live.session)
    await joined(connect, live.trainee, live.session)  # a second tab: a socket, not a person
    instructor = await joined(connect, live.instructor, live.session)
    during = await sync_to_async(scrape)()
    assert (during[sockets], during[people]) == (3, 2)
    assert during["corridor_live_joins_total[]"] == before["corridor_live_joins_total[]"] + 3

    reply = await trainee.request({"type": "question.ask", "text": "Is the metric there?"})
    assert reply["type"] == "ack", reply
    await instructor.receive_type("question.created")
    after_event = await sync_to_async(scrape)()
    count = "corridor_live_fanout_seconds_count[]"
    assert after_event[count] > during[count]
    assert after_event["corridor_live_fanout_seconds_sum[]"] < after_event[count] * 5

    await trainee.close()
    await instructor.close()
    after_leaving = await sync_to_async(scrape)()
    assert (after_leaving[sockets], after_leaving[people]) == (1, 1)
