"""A partner's LMS for the LTI tests: `lti1p3platform` (a maintained LTI 1.3 platform implementation, not Corridor's
code) plays the platform. Its OIDC login initiation, authentication endpoint (which answers with the auto-posting
launch form) and key set are served over HTTP by `PlatformServer` for the browser, or driven in-process by
`launch_with_client` for Django's test client.

What the platform puts in a launch (who, which role, which course) is a `LaunchPlan`; what it gets wrong on purpose
for the refusal tests (`issuer`, `deployment_id`, `expires_in`, another signing key) is set on `Platform`."""

from __future__ import annotations

import html
import http.server
import importlib.resources
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jinja2
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import TScore, UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService, NamesRoleProvisioningService, TPage

from lti.keys import public_jwk, rsa_key_pair

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
COURSE_CONTEXT_ID = "moodle-course-7"
COURSE_TITLE = "Applied Python (Moodle)"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"

# The library's own auto-posting launch form (it loads it through pkg_resources, which newer setuptools lacks).
LAUNCH_FORM = jinja2.Template(
    importlib.resources.files("lti1p3platform.framework.templates").joinpath("launch.html").read_text(),
    autoescape=True,
)


@dataclass
class LaunchPlan:
    """Who launches what: the platform's user and the link they follow."""

    sub: str = "moodle-user-1"
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    name: str = "Wei Ling Tan"
    email: str | None = "weiling.tan@poly.example.sg"
    custom: dict[str, str] = field(default_factory=dict)
    target_link_uri: str | None = None
    # A deep linking request (the person picks Corridor content to place in the platform course) instead of a launch.
    deep_link: bool = False
    # The launch grants Assignment and Grade Services on one line item (scores are posted back to it).
    ags: bool = False
    # The launch grants Names and Role Provisioning Services (the course's roster, at /memberships).
    nrps: bool = False


class _PlainRequest(Request):
    def build_metadata(self, request: Any) -> TRequest:
        return {"method": "GET", "form_data": {}, "get_data": dict(request), "headers": {}, "path": "/auth"}


class _ServiceRequest(Request):
    def build_metadata(self, request: Any) -> TRequest:
        return {"form_data": {}, "get_data": {}, "path": "/lineitems", **request}


def roster_member(
    user_id: str, *, name: str, email: str | None, roles: list[str], status: str = "Active"
) -> dict[str, Any]:
    """One member of a platform course as NRPS lists it."""
    given, _, family = name.partition(" ")
    member: dict[str, Any] = {
        "user_id": user_id,
        "roles": roles,
        "status": status,
        "name": name,
        "given_name": given,
        "family_name": family,
    }
    if email:
        member["email"] = email
    return member


class _ScoreService(AssignmentsGradesService):
    received: list[dict[str, Any]]

    # The platform's own line item management: not used by these tests (Corridor only posts scores).
    def find_lineitems(self, page: int = 1, limit: int | None = None) -> None:
        return None

    def find_lineitem(self, line_item_id: str) -> Any:
        raise NotImplementedError

    def create_lineitem(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def update_lineitem(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def delete_lineitem(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: TScore) -> UpdateScoreStatus:
        self.received.append({"line_item_id": line_item_id, **score})
        return UpdateScoreStatus.SUCCESS

    def get_results(
        self, line_item_id: str, page: int = 1, limit: int | None = None, user_id: str | None = None
    ) -> TPage:
        return {"content": [], "has_next": False}


class _MembershipService(NamesRoleProvisioningService):
    """lti1p3platform's NRPS endpoint (its bearer token and scope checked), over the platform's `members`, a page of
    `page_size` at a time."""

    members: list[dict[str, Any]]
    page_size: int

    def get_context_by_id(self) -> Context:
        return Context(id=COURSE_CONTEXT_ID, label="PY101", title=COURSE_TITLE)

    def get_member_data_page(
        self,
        page: int = 1,
        limit: int | None = None,
        role: str | None = None,
        since: str | None = None,
        **kwargs: Any,
    ) -> TPage:
        size = limit or self.page_size
        start = (page - 1) * size
        return {"content": self.members[start : start + size], "has_next": start + size < len(self.members)}


class _PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class _OIDCLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _MessageLaunch(LTIAdvantageMessageLaunchAbstract):
    plan: LaunchPlan
    deep_link_return_url: str
    platform_url: str

    def prepare_launch(self, preflight_response: dict[str, Any]) -> None:
        plan = self.plan
        self.set_user_data(plan.sub, plan.roles, full_name=plan.name, email_address=plan.email)
        self.set_resource_link_claim("corridor-link-1", title="Corridor")
        self.set_launch_context_claim(COURSE_CONTEXT_ID, context_title=COURSE_TITLE)
        if plan.custom:
            self.set_custom_parameters_claim(plan.custom)
        if plan.target_link_uri:
            self.set_launch_url(plan.target_link_uri)
        if plan.ags:
            self.set_ags(f"{self.platform_url}/lineitems", f"{self.platform_url}/lineitems/1")
        if plan.nrps:
            self.set_nrps(f"{self.platform_url}/memberships")
        if plan.deep_link:
            self.set_dl(self.deep_link_return_url, title="Applied Python (Moodle)", accept_types={"ltiResourceLink"})

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


class Platform:
    """One LMS with Corridor registered in it (issuer, client id, deployment, its own RSA key)."""

    def __init__(self, *, tool_base_url: str, issuer: str = "https://moodle.poly.example.sg") -> None:
        self.tool_base_url = tool_base_url.rstrip("/")
        self.issuer = issuer
        self.client_id = "corridor-client-1"
        self.deployment_id = "deployment-1"
        self.private_key, self.public_key = rsa_key_pair()
        self.expires_in = 300
        self.plan = LaunchPlan()
        self.base_url = ""  # set when served over HTTP
        # What instructors placed in the platform's course through deep linking (its content items).
        self.placed: list[dict[str, Any]] = []
        # Scores Corridor posted to the line item (AGS); while `down`, the score service answers 503.
        self.scores: list[dict[str, Any]] = []
        self.down = False
        # Corridor's key set when the platform cannot fetch it (Django's test client has no network address).
        self.tool_jwks: dict[str, Any] | None = None
        # The course's roster (NRPS members: user_id, roles, name, email, status), served `page_size` at a time;
        # while `roster_down`, the membership service answers 500 after its first page.
        self.members: list[dict[str, Any]] = []
        self.page_size = 50
        self.roster_down = False
        self.roster_requests = 0

    def memberships(self, *, headers: dict[str, str], query: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
        """The platform's membership service (lti1p3platform's: the bearer token must carry the NRPS scope):
        returns the HTTP status and the membership container, whose `next` the server sends as a Link header."""
        self.roster_requests += 1
        get_data: dict[str, Any] = {
            key: int(value) if key in {"page", "limit"} else value for key, value in query.items()
        }
        get_data.setdefault("limit", self.page_size)
        request = _ServiceRequest({"method": "GET", "headers": headers, "get_data": get_data})
        service = _MembershipService(
            request, _PlatformConf(registration=self._registration()), f"{self.base_url}/memberships"
        )
        service.members = self.members
        service.page_size = self.page_size
        response = service.handle_resp(service.handle_get_members)
        return int(response.code), response.result

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        """The platform's token endpoint: checks Corridor's signed client assertion against Corridor's key set."""
        return dict(_PlatformConf(registration=self._registration()).get_access_token(form))

    def score(self, *, line_item_id: str, headers: dict[str, str], body: bytes) -> int:
        """The platform's score service (lti1p3platform's, its bearer token checked); returns the HTTP status."""
        request = _ServiceRequest({"method": "POST", "headers": headers, "json": json.loads(body or b"{}")})
        service = _ScoreService(request, _PlatformConf(registration=self._registration()), f"{self.base_url}/lineitems")
        service.received = self.scores
        return int(service.handle_resp(service.handle_update_score, line_item_id=line_item_id).code)

    @property
    def deep_link_return_url(self) -> str:
        return f"{self.base_url or self.issuer}/deep-link-return"

    def receive_deep_link(self, token: str, tool_jwks: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The platform checks Corridor's signed deep linking response (against Corridor's published key set: fetched
        from its JWKS URL, or given) and keeps the content items."""
        registration = self._registration()
        if tool_jwks is not None:
            registration.set_tool_key_set(tool_jwks)
        items = _PlatformConf(registration=registration).validate_deeplinking_resp({"JWT": token})
        self.placed.extend(items)
        return items

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.public_key)]}

    def sign_with_another_key(self) -> None:
        """From now on sign with a key the published set does not hold (under the published key's id)."""
        published_kid = public_jwk(self.public_key)["kid"]
        self.private_key, _ = rsa_key_pair()
        self._kid_override = published_kid

    def _registration(self) -> Registration:
        registration = (
            Registration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(self.deployment_id)
            .set_launch_url(f"{self.tool_base_url}/lti/launch/")
            .set_deeplink_launch_url(f"{self.tool_base_url}/lti/launch/")
            .set_oidc_login_url(f"{self.tool_base_url}/lti/login/")
            .set_tool_key_set_url(f"{self.tool_base_url}/lti/jwks/")
            .set_platform_public_key(self.public_key)
            .set_platform_private_key(self.private_key)
        )
        if self.tool_jwks is not None:
            registration.set_tool_key_set(self.tool_jwks)
        kid = getattr(self, "_kid_override", None)
        if kid:
            registration.get_kid = lambda: kid
        return registration

    def login_initiation_url(self) -> str:
        """Where the platform sends the person's browser first (Corridor's OIDC login, with the platform's hints)."""
        platform = _PlatformConf(registration=self._registration())
        login = _OIDCLogin(None, platform)
        login.set_lti_message_hint(hint=uuid.uuid4().hex)
        return str(login.initiate_login(self.plan.sub))

    def authenticate(self, query: dict[str, str]) -> dict[str, Any]:
        """The platform's answer to Corridor's authentication request: the launch's id_token, state and URL."""
        platform = _PlatformConf(registration=self._registration())
        launch = _MessageLaunch(_PlainRequest(query), platform)
        launch.plan = self.plan
        launch.deep_link_return_url = self.deep_link_return_url
        launch.platform_url = self.base_url or self.issuer
        launch.set_id_token_expiration(self.expires_in)
        result: dict[str, Any] = launch.lti_launch()
        return result

    def launch_form(self, query: dict[str, str]) -> str:
        return LAUNCH_FORM.render(**self.authenticate(query))


def launch_with_client(client: Any, platform: Platform) -> tuple[Any, dict[str, Any]]:
    """A whole launch through Django's test client: returns Corridor's answer to the launch and what was posted (with
    `corridor_seconds`, the time Corridor took to answer the login and the launch)."""
    login_url = platform.login_initiation_url()
    started = time.perf_counter()
    answer = client.get(login_url.removeprefix(platform.tool_base_url))
    login_seconds = time.perf_counter() - started
    assert answer.status_code == 302, answer.content.decode()[:500]
    query = dict(parse_qsl(urlsplit(answer["Location"]).query))
    posted = platform.authenticate(query)
    started = time.perf_counter()
    response = client.post(
        urlsplit(posted["launch_url"]).path, {"id_token": posted["id_token"], "state": posted["state"]}
    )
    # Corridor's own time (its two answers), apart from the platform's signing in this process.
    posted["corridor_seconds"] = login_seconds + time.perf_counter() - started
    return response, posted


class PlatformServer:
    """The platform over HTTP on 127.0.0.1: /start (a person clicks the link in their course), /auth, /jwks."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: str, content_type: str = "text/html", location: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                try:
                    if parts.path == "/start":
                        self._send(302, "", location=outer.platform.login_initiation_url())
                    elif parts.path == "/course":
                        start = f"{outer.platform.base_url}/start"
                        add = f"{outer.platform.base_url}/add-activity"
                        self._send(
                            200,
                            f'<h1>Applied Python (Moodle)</h1><a href="{html.escape(start)}">Corridor</a> '
                            f'<a href="{html.escape(add)}">Add a Corridor activity</a>',
                        )
                    elif parts.path == "/add-activity":
                        outer.platform.plan.deep_link = True
                        self._send(302, "", location=outer.platform.login_initiation_url())
                    elif parts.path == "/auth":
                        self._send(200, outer.platform.launch_form(query))
                    elif parts.path == "/memberships":
                        if outer.platform.roster_down and "page" in query:
                            self._send(500, "roster service failed")
                            return
                        status, container = outer.platform.memberships(headers=dict(self.headers), query=query)
                        if container is None:
                            self._send(status, "refused")
                            return
                        self.send_response(status)
                        self.send_header("Content-Type", "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
                        if container.get("next"):
                            self.send_header("Link", f'<{container.pop("next")}>; rel="next"')
                        self.end_headers()
                        self.wfile.write(json.dumps(container).encode())
                    elif parts.path == "/jwks":
                        self._send(200, json.dumps(outer.platform.jwks()), "application/json")
                    else:
                        self._send(404, "not found")
                except Exception as error:  # the test reads the platform's refusal in the page
                    self._send(400, f"platform error: {html.escape(repr(error))}")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                path = urlsplit(self.path).path
                try:
                    if path == "/token":
                        self._send(
                            200, json.dumps(outer.platform.token(dict(parse_qsl(raw.decode())))), "application/json"
                        )
                        return
                    if path.startswith("/lineitems/") and path.endswith("/scores"):
                        if outer.platform.down:
                            self._send(503, "down for maintenance")
                            return
                        line_item_id = path.split("/")[2]
                        status = outer.platform.score(line_item_id=line_item_id, headers=dict(self.headers), body=raw)
                        self._send(status, "")
                        return
                    form = dict(parse_qsl(raw.decode()))
                    if path != "/deep-link-return":
                        self._send(404, "not found")
                        return
                    items = outer.platform.receive_deep_link(form["JWT"])
                    titles = "".join(f"<li>{html.escape(str(item.get('title')))}</li>" for item in items)
                    self._send(200, f"<h1>Placed in Applied Python (Moodle)</h1><ul>{titles}</ul>")
                except Exception as error:
                    self._send(400, f"platform error: {html.escape(repr(error))}")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        # "localhost", as the live server: the platform and Corridor are then the same site, as over HTTPS a
        # SameSite=None cookie makes them (pylti1p3 sets that on HTTPS only).
        platform.base_url = f"http://localhost:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PlatformServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def hidden_inputs(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
