"""infra/: the Dockerfile, the compose file, the Kubernetes manifests, the proxy and unit files are well formed,
and every variable they hand Corridor is a setting it reads. No Docker or cluster needed."""

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.settings_read import ROOT, settings_read
from tests.infra.test_env_example import example_names

INFRA = ROOT / "infra"
COMPOSE = INFRA / "docker-compose.yml"
K8S = INFRA / "k8s"
DOCKERFILE = INFRA / "Dockerfile"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
    "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip
# Variables a container needs that are not Corridor settings: Python's and pip's own.
NOT_SETTINGS = re.compile(r"^(PYTHON[A-Z_]*|PIP_[A-Z_]+)$")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def corridor_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the Corridor image."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if str(service.get("image", "")).startswith("corridor:")
    }


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, document)
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document
    ]


def module_exists(module: str) -> bool:
    parts = module.split(".")
    base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def assert_command_runs_corridor(command: list[str]) -> None:
    """The command starts something that exists in this repository."""
    if command[0] == "uvicorn":
        module, _, attribute = command[1].partition(":")
        assert module_exists(module), command
        assert re.search(rf"^{attribute}\s*=", (ROOT / Path(*module.split("."))).with_suffix(".py").read_text(), re.M)
    elif command[0] == "celery":
        assert command[1:3] == ["-A", "lms"] and command[3] in {"worker", "beat"}, command
    elif command[:2] == ["python", "-m"]:
        package = ROOT / Path(*command[2].split("."))
        module_file = package.with_suffix(".py")
        runnable = (package / "__main__.py").is_file() or (
            module_file.is_file() and 'if __name__ == "__main__":' in module_file.read_text()
        )
        assert runnable, command
    elif command[:2] == ["python", "manage.py"]:
        assert command[2] in {"migrate", "collectstatic"}, command
    else:
        pytest.fail(f"unknown command {command}")


# Every file parses ------------------------------------------------------------------------------------------------


def test_every_yaml_and_json_file_in_infra_parses() -> None:
    yaml_files = sorted([*INFRA.rglob("*.yaml"), *INFRA.rglob("*.yml")])
    json_files = sorted(INFRA.rglob("*.json"))
    assert COMPOSE in yaml_files and len(json_files) >= 1
    for path in yaml_files:
        assert list(yaml.safe_load_all(path.read_text(encoding="utf-8"))), path
    for path in json_files:
        json.loads(path.read_text(encoding="utf-8"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation"
    return [(line.split(None, 1)[0], line.split(None, 1)[1] if " " in line else "") for line in logical]


def test_the_dockerfile_is_well_formed() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM"
    assert re.fullmatch(r"python:3\.1[1-3][\w.-]*", instructions[0][1]), "a Python the project supports"
    for keyword, arguments in instructions:
        assert keyword in INSTRUCTIONS, keyword
        assert keyword == keyword.upper() and arguments, (keyword, arguments)
        if keyword in {"COPY", "ADD"}:
            *sources, _target = shlex.split(arguments)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        if keyword == "ENV":
            for name in re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", arguments):
                assert NOT_SETTINGS.match(name) or name in settings_read(), f"ENV {name} is no setting"
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the processes must not run as root"
    cmd = [arguments for keyword, arguments in instructions if keyword == "CMD"]
    assert len(cmd) == 1
    assert_command_runs_corridor(json.loads(cmd[0]))  # the exec form: a JSON array
    # Every dependency is pinned by constraints.txt.
    assert "-c constraints.txt" in " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")


def test_the_dockerignore_keeps_secrets_and_the_virtualenv_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv*", "var", "infra/corridor.env"):
        assert entry in ignored


# docker compose -------------------------------------------------------------------------------------------------


def test_compose_runs_the_one_host_topology() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "coturn", "caddy", "web1", "web2", "worker", "beat", "migrate"):
        assert name in services, name
    cities = sorted(
        s["environment"]["SFU_NODE_CITY"]
        for s in corridor_services().values()
        if "SFU_NODE_CITY" in s.get("environment", {})
    )
    assert cities == ["chongqing", "singapore"]
    caddyfile = (INFRA / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    assert "reverse_proxy web1:8000 web2:8000" in caddyfile
    assert "respond @internal 403" in caddyfile  # /metrics is not public
    caddy = services["caddy"]
    assert "./caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    for volume in services["coturn"]["volumes"]:
        host = volume.split(":", 1)[0]
        assert not host.startswith("./") or (INFRA / host).exists(), volume


def test_compose_services_run_corridor_commands_with_real_settings() -> None:
    read = settings_read()
    for name, service in corridor_services().items():
        assert service["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}, name
        assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["env_file"] == "corridor.env", name
        command = service.get("command")
        if command is not None:
            assert_command_runs_corridor([str(part) for part in command])
        unknown = sorted(set(service.get("environment", {})) - read)
        assert not unknown, f"{name} passes variables Corridor does not read: {unknown}"


def test_compose_interpolates_only_variables_env_example_names() -> None:
    settings_names, compose_only = example_names()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert used, "compose reads its secrets from corridor.env"
    assert used <= settings_names | compose_only, sorted(used - settings_names - compose_only)


# Kubernetes -----------------------------------------------------------------------------------------------------


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    version = kubernetes_validate.latest_version()
    kinds = []
    for path, document in k8s_documents():
        if document["apiVersion"].startswith("kustomize.config.k8s.io/"):
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {document['kind']} {document['metadata']['name']}: {error.message}")
        kinds.append(document["kind"])
    for kind in ("Deployment", "Service", "Ingress", "ConfigMap", "Secret", "Job", "DaemonSet", "Namespace"):
        assert kind in kinds, kind


def test_the_schema_check_would_catch_a_mistake() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    _, deployment = next((p, d) for p, d in k8s_documents() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["enviroment"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_manifests_pass_only_settings_corridor_reads() -> None:
    read = settings_read()
    for path, document in k8s_documents():
        if document["kind"] == "ConfigMap" and document["metadata"]["name"] == "corridor-config":
            assert not set(document["data"]) - read, (path.name, sorted(set(document["data"]) - read))
        if document["kind"] == "Secret" and document["metadata"]["name"] == "corridor-secrets":
            assert not set(document["stringData"]) - read, (path.name, sorted(set(document["stringData"]) - read))
        if document["kind"] in {"Deployment", "Job", "DaemonSet"}:
            for container in document["spec"]["template"]["spec"]["containers"]:
                names = {variable["name"] for variable in container.get("env", [])}
                assert not names - read, (path.name, container["name"], sorted(names - read))
                if container["image"].startswith("registry.corridor.example/corridor:"):
                    assert_command_runs_corridor(container["command"])


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_web_pods_are_probed_on_healthz_and_readyz() -> None:
    web = next(d for _, d in k8s_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "corridor-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["spec"]["replicas"] >= 2


# systemd --------------------------------------------------------------------------------------------------------


def test_systemd_units_start_corridor_processes() -> None:
    units = {path.name: path.read_text(encoding="utf-8") for path in (INFRA / "systemd").glob("*.service")}
    assert {"corridor-web.service", "corridor-worker.service", "corridor-beat.service"} <= set(units)
    assert {"corridor-sfu-node@.service", "corridor-room-agent.service"} <= set(units)
    for name, text in units.items():
        sections = re.findall(r"^\[(\w+)\]$", text, re.M)
        assert sections == ["Unit", "Service", "Install"], name
        exec_start = re.search(r"^ExecStart=((?:[^\n]*\\\n)*[^\n]+)", text, re.M)
        assert exec_start, name
        command = shlex.split(exec_start.group(1).replace("\\\n", " "))
        command[0] = Path(command[0]).name
        assert_command_runs_corridor(command)
