"""How a change to a paper or a sitting reaches the open pages at once: channel-layer groups, sent after commit.

The candidate's exam page listens on its paper's group (pause, extra time, submission take effect there at once);
the invigilator's console listens on the sitting's group (check-in, start, saves, disconnections, submissions)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from classrooms.realtime import group_send


def paper_group(paper_id: int) -> str:
    return f"exam-paper-{paper_id}"


def sitting_group(sitting_id: int) -> str:
    return f"exam-sitting-{sitting_id}"


def papers_changed_on_commit(*, sitting_id: int, paper_ids: Iterable[int], reason: str) -> None:
    """Tell each paper's page to re-read its state, and the sitting's consoles to refresh, once this commits.

    `reason` says what changed ("paused", "resumed", "extra_time", "submitted", "saved", "checked_in", …)."""
    ids = list(paper_ids)

    def send() -> None:
        for paper_id in ids:
            group_send(paper_group(paper_id), {"type": "exam.paper_changed", "paper_id": paper_id, "reason": reason})
        group_send(sitting_group(sitting_id), {"type": "exam.sitting_changed", "paper_ids": ids, "reason": reason})

    transaction.on_commit(send)
