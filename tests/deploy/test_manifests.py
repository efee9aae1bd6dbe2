"""deploy/: the Compose file and the Kubernetes manifests are valid and say what we promise."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.30.0"


def k8s_docs() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(kind: str) -> list[dict]:
    return [d for d in k8s_docs() if d["kind"] == kind]


@pytest.mark.parametrize("doc", k8s_docs(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_validates_against_the_kubernetes_schema(doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_validator_does_reject_a_broken_manifest():
    broken = dict(by_kind("Deployment")[0])
    broken["spec"] = {**broken["spec"], "replicas": "two"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def deployment(name: str) -> dict:
    return next(d for d in by_kind("Deployment") if d["metadata"]["name"] == name)


def test_web_runs_two_or_more_replicas_with_readiness_and_liveness():
    web = deployment("authserver-web")
    assert web["spec"]["replicas"] >= 2
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_cluster_has_pdb_hpa_worker_single_beat_and_migration_job():
    assert by_kind("PodDisruptionBudget")
    assert by_kind("HorizontalPodAutoscaler")[0]["spec"]["minReplicas"] >= 2
    assert deployment("authserver-worker")
    beat = deployment("authserver-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    job = by_kind("Job")[0]
    assert "migrate" in " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])


def test_secrets_carry_the_two_mandatory_keys():
    secret = by_kind("Secret")[0]
    assert {"SECRET_KEY", "KEY_ENCRYPTION_KEY"} <= set(secret["stringData"])


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())


def test_compose_runs_web_worker_beat_postgres_and_redis():
    services = compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    assert services["web"]["command"][0] == "gunicorn"
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
    assert services["web"]["healthcheck"]


def test_compose_validates_with_docker_compose_when_available(tmp_path):
    docker = shutil.which("docker")
    has_compose = bool(docker) and (
        subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    structure = compose()
    assert structure["services"]  # the YAML structure is checked everywhere
    if has_compose:
        env = DEPLOY / "compose" / ".env"
        created = not env.exists()
        if created:
            env.write_text((DEPLOY / "compose" / "env.example").read_text())
        try:
            result = subprocess.run(
                [docker, "compose", "-f", str(DEPLOY / "compose" / "compose.yaml"), "config"],
                capture_output=True,
                text=True,
            )
        finally:
            if created:
                env.unlink()
        assert result.returncode == 0, result.stderr


INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip
DIGEST = re.compile(r"^[\w.\-/:]+@sha256:[0-9a-f]{64}$")


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined, as
    BuildKit's parser reads the file (a line ending in a backslash continues)."""
    instructions, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        instructions.append((keyword, args.strip()))
        pending = ""
    assert not pending, "the file ends inside a continued line"
    return instructions


def test_dockerfile_parses_and_pins_every_base_image_by_digest():
    instructions = dockerfile_instructions((DEPLOY / "compose" / "Dockerfile").read_text())
    unknown = [k for k, _ in instructions if k.upper() not in INSTRUCTIONS or k != k.upper()]
    assert not unknown, unknown
    first_from = next(i for i, (k, _) in enumerate(instructions) if k == "FROM")
    # ARGs before the first FROM are the only ones a FROM may use.
    global_args = dict(
        args.split("=", 1) for k, args in instructions[:first_from] if k == "ARG" and "=" in args
    )
    assert all(k == "ARG" for k, _ in instructions[:first_from])
    stages: set[str] = set()
    for keyword, args in instructions[first_from:]:
        if keyword == "FROM":
            image, *rest = args.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m[1]], image)
            assert image in stages or DIGEST.match(image), f"base not pinned by digest: {image}"
            assert image.split("@")[0].count(":") == 1, "keep the tag beside the digest"
            if rest:
                assert rest[0].upper() == "AS"
                stages.add(rest[1])
        elif keyword == "COPY" and args.startswith("--from="):
            assert args.split()[0].removeprefix("--from=") in stages
    assert len(stages) >= 2  # multi-stage: compilers stay out of the runtime image


def test_dockerfile_runs_as_non_root_and_collects_static():
    text = (DEPLOY / "compose" / "Dockerfile").read_text()
    assert re.search(r"^USER\s+(?!root)\S+", text, re.M)
    assert "collectstatic" in text


def test_the_image_installs_only_hash_checked_dependencies():
    instructions = dockerfile_instructions((DEPLOY / "compose" / "Dockerfile").read_text())
    runs = [args for keyword, args in instructions if keyword == "RUN" and "pip " in args]
    assert any("--require-hashes" in r and "-r requirements.lock" in r for r in runs)
    # After the checked download, nothing comes from an index: pip wheel/install --no-index.
    checked = next(i for i, r in enumerate(runs) if "--require-hashes" in r)
    for later in runs[checked + 1 :]:
        for command in re.split(r"&&", later):
            if "pip wheel" in command and "--no-deps" in command and " ." in command:
                continue  # the server itself, from the source tree
            if "pip " in command:
                assert "--no-index" in command, command


def test_the_digest_check_refuses_a_tag_alone():
    assert not DIGEST.match("python:3.11.10-slim-bookworm")
    assert not DIGEST.match("python:latest@sha256:abc")


def test_dockerfile_ships_every_package_the_project_installs():
    # INSTALLED_APPS names enterprise/ and connections/: an image without them cannot start.
    import tomllib

    text = (DEPLOY / "compose" / "Dockerfile").read_text()
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), package
