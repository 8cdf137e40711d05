"""The layers of docs/architecture.md hold, and `lint-imports` (run by `make test`) fails when someone breaks them.

Each case copies the packages to a temporary folder, adds one forbidden import and runs the real
`lint-imports` there with the project's contracts."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["lms", "courses", "classrooms", "streaming", "certificates", "exams", "internships", "frontend", "lti"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "migrations", "static")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n{line}  # added by the test\n")


def test_the_project_keeps_its_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # classrooms sits below streaming: one direction only.
        ("classrooms/models.py", "from streaming import services", "Apps are layered"),
        # the shared core imports no app (certificates use everyone; nobody imports them).
        ("lms/accounts/models.py", "import certificates.models", "Apps are layered"),
        ("courses/services.py", "from classrooms import selectors", "Apps are layered"),
        # the media path stays free of Django.
        ("streaming/sfu/types.py", "import django.db", "The media path"),
        ("streaming/node/wire.py", "from classrooms import models", "The media path"),
        ("streaming/sfu/types.py", "from streaming import signaling", "The SFU core knows nothing"),
    ],
)
def test_a_forbidden_import_breaks_the_build(tree: Path, module: str, line: str, contract: str) -> None:
    add_import(tree / module, line)
    result = lint_imports(tree)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
