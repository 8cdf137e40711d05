"""infra/env.example names every setting the code reads, and only those (plus compose's own variables)."""

import os
import re
import secrets
from pathlib import Path

from tests.infra.settings_read import ROOT, names_read, settings_read
from tests.support.deploy import check_deploy

ENV_EXAMPLE = ROOT / "infra" / "env.example"
COMPOSE_ONLY_MARK = "# --- docker compose only"
LINE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]+)=")


def example_names() -> tuple[set[str], set[str]]:
    """(settings, compose-only variables) named in env.example, set or commented out."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    settings_part, _, compose_part = text.partition(COMPOSE_ONLY_MARK)

    def names(part: str) -> set[str]:
        return {match.group(1) for line in part.splitlines() if (match := LINE.match(line))}

    return names(settings_part), names(compose_part)


def test_the_scanner_finds_settings_read_in_every_way(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "A = env.str('ONE', default='')\n"
        "B = env.db('TWO')\n"
        "C = env.get('THREE', '1')\n"
        "D = env['FOUR']\n"
        "E = os.environ.get('FIVE')\n"
        "F = other.get('NOT_ENV')\n"
    )
    assert names_read(sample) == {"ONE", "TWO", "THREE", "FOUR", "FIVE"}


def test_known_settings_are_found() -> None:
    read = settings_read()
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SFU_NODE_CITY", "LOG_FORMAT", "CORRIDOR_ROOM_TOKEN"):
        assert name in read


def test_every_setting_read_is_in_env_example() -> None:
    documented, _ = example_names()
    missing = sorted(settings_read() - documented)
    assert not missing, f"add to infra/env.example (and README's configuration table): {missing}"


def test_env_example_names_no_setting_that_nothing_reads() -> None:
    documented, _ = example_names()
    stale = sorted(documented - settings_read())
    assert not stale, f"infra/env.example names settings nothing reads: {stale}"


def test_compose_only_variables_are_not_settings() -> None:
    _, compose_only = example_names()
    assert compose_only, "the compose-only section is missing"
    assert not compose_only & settings_read()


def test_the_production_env_example_passes_the_deployment_checklist() -> None:
    """`manage.py check --deploy --fail-level WARNING` with infra/env.example as an operations team fills it in
    (its CHANGE-ME values replaced with real secrets): the deployment is what Django's checklist asks for."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    for line in (ROOT / "infra" / "env.example").read_text(encoding="utf-8").splitlines():
        name, equals, value = line.partition("=")
        if line.startswith("#") or not equals:
            continue
        env[name.strip()] = secrets.token_urlsafe(48) if "CHANGE-ME" in value and name != "DATABASE_URL" else value
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("CHANGE-ME", secrets.token_hex(8))
    env["DJANGO_SETTINGS_MODULE"] = "lms.settings"
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
