"""The frame guards every Corridor websocket shares (live session, media, device)."""

import pytest

from lms.errors import CorridorError
from lms.socket_frames import FrameRateLimit, parse_json_frame


def parse(text: str | None, max_bytes: int = 64) -> dict:
    return parse_json_frame(text, max_bytes=max_bytes, too_large="limited to 64 bytes")


def refusal(text: str | None, max_bytes: int = 64) -> CorridorError:
    with pytest.raises(CorridorError) as raised:
        parse(text, max_bytes)
    return raised.value


def test_a_json_object_with_a_type_is_returned_as_is() -> None:
    assert parse('{"type": "question.ask", "text": "你好"}') == {"type": "question.ask", "text": "你好"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, "invalid_message"),  # a binary frame
        ("{not json", "malformed_json"),
        ("[1, 2]", "invalid_message"),
        ('{"type": 3}', "invalid_message"),
        ('{"text": "no type"}', "invalid_message"),
    ],
)
def test_what_is_not_a_typed_json_object_is_refused_with_its_code(text: str | None, code: str) -> None:
    assert refusal(text).code == code


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    at_limit = '{"type":"a","t":"' + "x" * 45 + '"}'
    assert len(at_limit.encode()) == 64
    assert parse(at_limit)["t"] == "x" * 45
    # 21 Chinese characters are 63 bytes: the frame is 83 bytes but only 41 characters long.
    chinese = '{"type":"a","t":"' + "长" * 21 + '"}'
    assert len(chinese) < 64 < len(chinese.encode())
    error = refusal(chinese)
    assert (error.code, error.message) == ("too_large", "limited to 64 bytes")


def test_the_rate_limit_refuses_the_frame_over_the_limit_and_forgives_after_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("lms.socket_frames.time.monotonic", lambda: now[0])
    limit = FrameRateLimit(3)
    for _ in range(3):
        limit.spend()
    with pytest.raises(CorridorError) as raised:
        limit.spend()
    assert raised.value.code == "rate_limited"
    now[0] += 1.0
    limit.spend()  # a new window


def test_five_times_the_limit_within_a_second_is_a_flood(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lms.socket_frames.time.monotonic", lambda: 100.0)
    limit = FrameRateLimit(2)
    codes = []
    for _ in range(11):
        try:
            limit.spend()
            codes.append("ok")
        except CorridorError as error:
            codes.append(error.code)
    assert codes == ["ok", "ok"] + ["rate_limited"] * 8 + ["flooded"]
