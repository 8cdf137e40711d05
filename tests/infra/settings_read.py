"""Which environment variables Corridor's code reads: found in the source, not listed by hand.

The app's settings read the environment through `env` (lms/settings/env.py: env.str("NAME"), env.db(...), …); the
SFU node's configuration and the room agent read their own (streaming/node, classrooms/agent), and the SFU whether
to use its native fan-out (streaming/sfu/native)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Set by the tests' settings for pytest-xdist, not by anyone deploying.
TEST_ONLY = {"PYTEST_XDIST_WORKER"}
ENV_METHODS = {"str", "bool", "int", "float", "list", "tuple", "dict", "json", "url", "path", "db", "db_url"}
ENV_METHODS |= {"cache", "cache_url", "email", "email_url", "search_url", "get", "setdefault"}


def source_files() -> list[Path]:
    files = [path for path in (ROOT / "lms" / "settings").glob("*.py") if path.name != "test.py"]
    files += sorted((ROOT / "streaming" / "node").glob("*.py"))
    files += sorted((ROOT / "classrooms" / "agent").glob("*.py"))
    files += [ROOT / "lms" / "celery.py", ROOT / "lms" / "asgi.py", ROOT / "streaming" / "node_recordings.py"]
    files += [ROOT / "streaming" / "sfu" / "native" / "__init__.py"]
    return files


def _is_environment(node: ast.expr) -> bool:
    """`env`, `environ`, `os.environ` (or a mapping built from it, named env or environ)."""
    if isinstance(node, ast.Name):
        return node.id in {"env", "environ"}
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def names_read(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ENV_METHODS
            and _is_environment(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and _is_environment(node.value)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.add(node.slice.value)
    return found - TEST_ONLY


def settings_read() -> set[str]:
    return set().union(*(names_read(path) for path in source_files()))
