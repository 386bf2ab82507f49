"""The deployment files (Dockerfile, deploy/: compose, systemd, Kubernetes) are well
formed and say what docs/deploy.md promises: a non-root user, state on a volume, the
health paths, two replicas sharing one PostgreSQL and one key volume, keys from a
Secret. Each linter runs where it is installed and the test skips, naming it, where it
is not; the image is built and run where a container runtime works and a base image is
at hand (IDENTITY_TEST_CONTAINER_BASE), and skipped with the reason otherwise."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
YAML_FILES = [DEPLOY / "compose.yaml", *sorted((DEPLOY / "kubernetes").glob("*.yaml"))]
LIVE, READY = "/healthz/live", "/healthz/ready"
BASE = os.environ.get("IDENTITY_TEST_CONTAINER_BASE", "python:3.11-slim-bookworm")


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in text.splitlines() if line.strip() and not line.startswith("#")]


# ---- the files say what they promise ------------------------------------------------

def test_the_image_runs_as_a_non_root_user_with_its_state_on_a_volume_and_a_healthcheck():
    instructions = dockerfile_instructions()
    final = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM"):]
    users = [v for k, v in final if k == "USER"]
    assert users and users[-1] not in ("root", "0")
    volumes = [v for k, v in final if k == "VOLUME"]
    env = " ".join(v for k, v in final if k == "ENV")
    assert volumes and "/var/lib/identity" in volumes[0]
    for setting in ("IDENTITY_DATABASE_URL=sqlite:////var/lib/identity/",
                    "IDENTITY_KEY_DIR=/var/lib/identity/", "IDENTITY_CREDENTIAL_KEY_DIR=/var/lib/identity/"):
        assert setting in env
    assert any(k == "HEALTHCHECK" and '"identity_grpc.probe", "ready"' in v for k, v in final)
    assert [v for k, v in final if k == "CMD"] == ['["identity-server"]']


def test_compose_runs_two_replicas_over_one_postgresql_sharing_the_keys():
    compose = documents(DEPLOY / "compose.yaml")[0]["services"]
    replicas = [s for name, s in compose.items() if name.startswith("identity-")]
    assert len(replicas) == 2
    urls = {s["environment"]["IDENTITY_DATABASE_URL"] for s in replicas}
    assert len(urls) == 1 and urls.pop().startswith("postgresql://") and "@postgres:" in next(
        iter({s["environment"]["IDENTITY_DATABASE_URL"] for s in replicas}))
    assert all(s["volumes"] == replicas[0]["volumes"] for s in replicas)
    key_dir = replicas[0]["environment"]["IDENTITY_KEY_DIR"]
    assert any(key_dir.startswith(v.split(":")[1]) for v in replicas[0]["volumes"])
    for replica in replicas:
        assert replica["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert compose["setup"]["command"] == ["identity-manage", "setup"]
    assert "healthcheck" in compose["postgres"]


def test_kubernetes_probes_use_the_health_paths_and_keys_come_from_a_secret():
    resources = [d for f in sorted((DEPLOY / "kubernetes").glob("*.yaml")) for d in documents(f)
                 if "kind" in d and d["kind"] != "Kustomization"]
    kinds = {d["kind"] for d in resources}
    assert {"Deployment", "Service", "Secret"} <= kinds
    deployment = next(d for d in resources if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == LIVE
    assert container["readinessProbe"]["httpGet"]["path"] == READY
    assert pod["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    key_volume = next(n for n, path in mounts.items() if path == env["IDENTITY_KEY_DIR"]["value"])
    assert secrets[key_volume] in {d["metadata"]["name"] for d in resources if d["kind"] == "Secret"}
    service = next(d for d in resources if d["kind"] == "Service")
    ports = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == ports


# ---- linters, where installed ---------------------------------------------------------

def test_the_yaml_files_pass_yamllint():
    config = json.dumps({"extends": "default", "rules": {
        "line-length": {"max": 100}, "document-start": "disable", "truthy": {"check-keys": False}}})
    result = subprocess.run([sys.executable, "-m", "yamllint", "-f", "parsable", "-d", config,
                             *map(str, YAML_FILES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # The unit names /opt/identity's virtualenv; verify checks the command exists, so
    # point it at this one's.
    unit = tmp_path / "identity.service"
    unit.write_text((DEPLOY / "systemd" / "identity.service").read_text().replace(
        "/opt/identity/bin/", f"{Path(sys.executable).parent}/"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stdout + result.stderr


def test_kustomize_renders_the_kubernetes_manifests():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed here (kustomize renders the manifests)")
    result = subprocess.run([kubectl, "kustomize", str(DEPLOY / "kubernetes")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert {d["kind"] for d in yaml.safe_load_all(result.stdout)} == {"Secret", "Deployment", "Service"}


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed here (no Debian package; PyPI's wrappers "
                    "download the binary, which this machine cannot)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- the image itself, where a container runtime works --------------------------------

def container_engine() -> list[str]:
    """podman (with runc where installed: crun refuses hybrid cgroups), with host
    networking and explicit limits, which work in a sandbox as well as on a host."""
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip("no container runtime: podman is not installed (apt-get install podman)")
    engine = [podman] + (["--runtime", "runc"] if shutil.which("runc") else [])
    probe = subprocess.run([*engine, "image", "exists", BASE], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"no base image {BASE} here (no registry reachable): set "
                    "IDENTITY_TEST_CONTAINER_BASE to a local image with Python 3.11+")
    return engine


def local_package_index() -> list[str]:
    """This machine's pip configuration and local index, read-only, for the build."""
    mounts = []
    for path in ("/etc/pip.conf", "/etc/xdg/pip", "/etc/ssl/certs", "/opt/pypi", "/opt/pypi-more",
                 "/opt/wheels"):
        if os.path.exists(path):
            mounts += ["-v", f"{path}:{path}:ro"]
    return mounts


def wait_for_serving(address: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                if health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the container's server did not report SERVING on {address}")
            time.sleep(0.5)


@pytest.mark.slow
def test_the_image_builds_runs_as_non_root_and_answers_health_checks(tmp_path):
    from test_operations import free_port

    engine = container_engine()
    tag = f"localhost/identity-service-test:{os.getpid()}"
    volume = f"identity-test-{os.getpid()}"
    name = f"identity-test-{os.getpid()}"
    build = subprocess.run([*engine, "build", "--format", "docker", "--network", "host",
                            "--ulimit", "nofile=8192:8192", "--ulimit", "nproc=4096:4096",
                            *local_package_index(), "--build-arg", f"BASE={BASE}", "-t", tag,
                            str(ROOT)], capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    grpc_port, http_port = free_port(), free_port()
    run = [*engine, "run", "--network", "host", "--ulimit", "nofile=8192:8192",
           "--ulimit", "nproc=4096:4096", "-v", f"{volume}:/var/lib/identity",
           "-e", f"IDENTITY_LISTEN=127.0.0.1:{grpc_port}",
           "-e", f"IDENTITY_HTTP_LISTEN=127.0.0.1:{http_port}"]
    try:
        setup = subprocess.run([*run, "--rm", "-e", "IDENTITY_ADMIN_PASSWORD=container-admin-1",
                                tag, "identity-manage", "setup"],
                               capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        subprocess.run([*run, "-d", "--name", name, tag], check=True, capture_output=True,
                       timeout=60)
        wait_for_serving(f"127.0.0.1:{grpc_port}")
        who = subprocess.run([*engine, "exec", name, "id", "-u"], capture_output=True,
                             text=True, timeout=30)
        assert who.stdout.strip() == "10001"
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v3", timeout=5) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{READY}", timeout=5) as ready:
            assert ready.status == 200
        check = subprocess.run([*engine, "healthcheck", "run", name], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        subprocess.run([*engine, "rm", "-f", "-t", "5", name], capture_output=True, timeout=60)
        subprocess.run([*engine, "volume", "rm", "-f", volume], capture_output=True, timeout=60)
        subprocess.run([*engine, "rmi", "-f", tag], capture_output=True, timeout=60)
