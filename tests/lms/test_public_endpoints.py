"""Every endpoint an anonymous visitor can reach answers bad input with a 4xx (or a page), never a 500: malformed
codes and tokens, numbers past any column's range, deeply nested JSON, huge bodies."""

import json
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

HUGE_INT = "9" * 40
NESTED_ARRAYS = "[" * 100_000 + "]" * 100_000  # 200 kB: under the credential size limit, past the parser's depth
NESTED_IN_OBJECT = '{"@context": ' + "[" * 5_000 + "]" * 5_000 + "}"
HUGE_BODY = "x" * (3 * 1024 * 1024)  # past Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
MEDIUM_BODY = json.dumps({"padding": "x" * (400 * 1024)})  # past the credential limit, under Django's

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    # (name, method, path, request arguments)
    ("health", "get", "/healthz", {}),
    ("health-post-huge", "post", "/healthz", {"data": HUGE_BODY, "content_type": "text/plain"}),
    ("verify-code-garbage", "get", "/certificates/verify/%00%ff%fe/", {}),
    ("verify-code-too-long", "get", "/certificates/verify/" + "A" * 500 + "/", {}),
    ("verify-code-unicode", "get", "/en/certificates/verify/证书-ÄÖÜ/", {}),
    ("verify-page-dashes", "get", "/en/certificates/verify/----/", {}),
    ("verify-json-dashes", "get", "/certificates/verify/-.json", {}),
    ("verify-json-long", "get", "/certificates/verify/" + "Z" * 40 + ".json", {}),
    ("verify-form-huge-code", "get", "/en/certificates/verify/", {"data": {"code": "A" * 100_000}}),
    ("verify-form-nul", "get", "/en/certificates/verify/", {"data": {"code": "\x00"}}),
    ("credential-nested-arrays", "post", "/certificates/verify.json", {"data": NESTED_ARRAYS, "content_type": JSON}),
    ("credential-nested-object", "post", "/certificates/verify.json", {"data": NESTED_IN_OBJECT, "content_type": JSON}),
    ("credential-huge", "post", "/certificates/verify.json", {"data": HUGE_BODY, "content_type": JSON}),
    ("credential-medium", "post", "/certificates/verify.json", {"data": MEDIUM_BODY, "content_type": JSON}),
    ("credential-binary", "post", "/certificates/verify.json", {"data": b"\xff\xfe\x00{", "content_type": JSON}),
    (
        "credential-not-credential",
        "post",
        "/certificates/verify.json",
        {"data": '{"id": 5, "proof": [1]}', "content_type": JSON},
    ),
    (
        "credential-id-garbage",
        "post",
        "/certificates/verify.json",
        {"data": '{"id": "urn:x:' + "\u0000" * 10 + '"}', "content_type": JSON},
    ),
    ("credential-get", "get", "/certificates/verify.json", {}),
    ("status-list-huge", "get", f"/certificates/status/{HUGE_INT}.json", {}),
    ("status-list-big", "get", "/certificates/status/99999999.json", {}),
    ("issuer-key", "get", "/certificates/issuer/key.json", {}),
    ("calendar-garbage", "get", "/calendar/%00%ff.ics", {}),
    ("calendar-long", "get", "/calendar/" + "a" * 5_000 + ".ics", {}),
    ("set-language-bad", "post", "/i18n/setlang/", {"data": {"language": "xx" * 1_000, "next": "//evil.example"}}),
    ("set-language-huge", "post", "/i18n/setlang/", {"data": HUGE_BODY, "content_type": FORM}),
    ("login-huge-username", "post", "/en/accounts/login/", {"data": {"username": "a" * 10_000, "password": "x"}}),
    ("login-nul", "post", "/en/accounts/login/", {"data": {"username": "\x00@x", "password": "\x00"}}),
    ("login-huge-body", "post", "/en/accounts/login/", {"data": HUGE_BODY, "content_type": FORM}),
    (
        "login-many-fields",
        "post",
        "/en/accounts/login/",
        {"data": "&".join(f"f{n}=1" for n in range(2_000)), "content_type": FORM},
    ),
    (
        "login-huge-agent",
        "post",
        "/en/accounts/login/",
        {"data": {"username": "a@b.c", "password": "x"}, "HTTP_USER_AGENT": "u" * 5_000, "HTTP_ACCEPT": "a" * 5_000},
    ),
    (
        "login-nul-agent",
        "post",
        "/en/accounts/login/",
        {"data": {"username": "a@b.c", "password": "x"}, "HTTP_USER_AGENT": "\x00"},
    ),
    (
        "login-huge-path-next",
        "post",
        "/en/accounts/login/?next=" + "n" * 5_000,
        {"data": {"username": "a@b.c", "password": "x"}},
    ),
    ("calendar-nul", "get", "/calendar/abc%00def.ics", {}),
    ("login-code-without-password", "post", "/en/accounts/login/code/", {"data": {"code": "1" * 10_000}}),
    ("admin-login-next-garbage", "get", "/admin/login/", {"data": {"next": "\x00" * 100}}),
    ("checkin-huge-ids", "get", f"/en/live/checkin/{HUGE_INT}/{HUGE_INT}/abc/", {}),
    ("documents-huge-id", "get", f"/documents/{HUGE_INT}/x.pdf", {}),
    ("catalogue-bad-page", "get", "/en/", {"data": {"page": "-1e99", "q": "\x00" * 10, "language": "💥"}}),
    ("catalogue-huge-query", "get", "/en/", {"data": {"q": "x" * 20_000}}),
    ("unknown-page", "get", "/en/" + "deep/" * 200, {}),
    ("recording-file-token", "get", "/en/recordings/file/" + "x" * 5_000 + "/", {}),
    ("certificate-file-token", "get", "/en/certificates/files/" + "%ff" * 100 + "/", {}),
]


@pytest.mark.parametrize(("method", "path", "arguments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_anonymous_visitors_bad_input_never_gets_a_500(method: str, path: str, arguments: dict[str, Any]) -> None:
    client = Client(raise_request_exception=False)
    response = getattr(client, method)(path, **arguments)
    assert response.status_code < 500, (response.status_code, response.content[:300])


def test_a_credential_nested_past_any_real_one_is_refused_plainly() -> None:
    for body in (NESTED_ARRAYS, NESTED_IN_OBJECT):
        answer = Client().post("/certificates/verify.json", body, content_type=JSON)
        assert answer.status_code == 400
        assert answer.json()["reason"] in {"too_deep", "not_object"}
    assert (
        Client().post("/certificates/verify.json", NESTED_IN_OBJECT, content_type=JSON).json()["reason"] == "too_deep"
    )


def test_a_body_past_the_limits_is_refused_with_a_4xx() -> None:
    assert Client().post("/certificates/verify.json", MEDIUM_BODY, content_type=JSON).status_code == 413
    assert Client(raise_request_exception=False).post(
        "/certificates/verify.json", HUGE_BODY, content_type=JSON
    ).status_code in {400, 413}
