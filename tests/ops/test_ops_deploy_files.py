"""The deployment files parse, validate against their schemas and agree with each other.

No Docker engine or Kubernetes cluster runs in CI, so images are not built and manifests are
not applied: the Dockerfile is linted (hadolint), the compose file is validated against the
Compose specification, the manifests against the Kubernetes API schemas, the unit file with
systemd-analyze. Each validator is also shown to reject a broken copy, so none passes blindly.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ops_helpers import COMPOSE, DASHBOARD, DEPLOY, K8S, REPO, k8s_documents, load_yaml_documents

VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A command-line tool from the venv or PATH, or skip saying how to get it."""
    for candidate in (VENV_BIN / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.skip(f"{name} not installed (pip install -e '.[test]' provides it)")


def run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


# -- Dockerfile ------------------------------------------------------------------------------
DOCKERFILE = DEPLOY / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def dockerfile_args() -> dict[str, str]:
    return dict(arg.split("=", 1) for op, arg in dockerfile_instructions() if op == "ARG" and "=" in arg)


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    return instructions[starts[-1] :]


def test_hadolint_passes() -> None:
    result = run(tool("hadolint"), str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && apt-get install curl\n")
    result = run(tool("hadolint"), str(bad))
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_image_runs_as_non_root_with_a_health_check() -> None:
    stage = final_stage(dockerfile_instructions())
    users = [arg for op, arg in stage if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    health = [arg for op, arg in stage if op == "HEALTHCHECK"]
    assert len(health) == 1 and "guard-healthcheck" in health[0]
    base = stage[0][1]
    assert "slim" in base or "ARG" in base or "${PYTHON_IMAGE}" in base
    assert "slim" in dockerfile_args()["PYTHON_IMAGE"]
    assert [arg for op, arg in stage if op == "ENTRYPOINT"] == ['["guard"]']


def test_dockerfile_copies_only_what_exists() -> None:
    for op, arg in dockerfile_instructions():
        if op != "COPY" or arg.startswith("--from"):
            continue
        *sources, _dest = arg.split()
        for src in sources:
            assert (REPO / src).exists(), f"COPY source {src} is missing from the repository"


def build_stage_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY into the build stage's /src, in order."""
    instructions = dockerfile_instructions()
    stage_starts = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    out = []
    for op, arg in instructions[stage_starts[0] : stage_starts[1]]:
        if op == "COPY" and not arg.startswith("--"):
            *sources, dest = arg.split()
            out.append((sources, dest))
    return out


@pytest.mark.slow
def test_build_stage_installs_a_guard_that_finds_its_rules(tmp_path: Path) -> None:
    """What `docker build` would do, minus the base image: copy what the build stage copies
    (symlinks kept, as COPY keeps them), `pip install .`, then run the installed guard away
    from the source tree. The wheel must carry the rule packs (guard/default_rules)."""
    src, site, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "run"
    src.mkdir()
    elsewhere.mkdir()
    for sources, dest in build_stage_copies():
        if not dest.startswith(("./", ".")):
            continue  # copied to an absolute path after the install
        for source in sources:
            target = src / dest / Path(source).name if dest.endswith("/") or len(sources) > 1 else src / dest
            if (REPO / source).is_dir():
                shutil.copytree(
                    REPO / source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, target)
    assert (src / "guard" / "default_rules").is_symlink()
    pip = run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(src))
    assert pip.returncode == 0, pip.stderr[-2000:]
    assert (site / "guard" / "default_rules" / "policy.yaml").is_file()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(site),
        "GUARD_DATA_DIR": str(tmp_path / "data"),
        "GUARD_RULES__HASH_KEY": "image-test",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import sys, guard.cli; sys.exit(guard.cli.main(['check-config']))"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=elsewhere,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.match(r"config ok: \d+ detectors", result.stdout), result.stdout
    assert str(site) in run_installed_path(site, elsewhere)


def run_installed_path(site: Path, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "import guard; print(guard.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PYTHONPATH": str(site)},
        check=False,
    )
    return result.stdout


def test_exposed_ports_are_the_listeners() -> None:
    stage = final_stage(dockerfile_instructions())
    exposed = {p for op, arg in stage if op == "EXPOSE" for p in arg.split()}
    env_text = " ".join(arg for op, arg in stage if op == "ENV")
    listens = set(re.findall(r"GUARD_(?:SMTP|HTTP)__LISTEN=[\d.]+:(\d+)", env_text))
    assert exposed == listens == {"2525", "8025"}


# -- health check script ---------------------------------------------------------------------
HEALTHCHECK = DEPLOY / "healthcheck.py"


@pytest.fixture
async def health_server() -> Any:
    from aiohttp import web

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def down(request: web.Request) -> web.Response:
        return web.json_response({"status": "unavailable"}, status=503)

    app = web.Application()
    app.router.add_get("/healthz", ok)
    app.router.add_get("/readyz", down)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port
    await runner.cleanup()


async def run_healthcheck(listen: str, *args: str) -> tuple[int, str]:
    import asyncio
    import os

    env = {**os.environ, "GUARD_HTTP__LISTEN": listen}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HEALTHCHECK),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, err.decode()


async def test_healthcheck_script_follows_the_listener(health_server: int) -> None:
    assert await run_healthcheck(f"0.0.0.0:{health_server}") == (0, "")
    code, err = await run_healthcheck(f"0.0.0.0:{health_server}", "/readyz")
    assert code == 1 and "503" in err


async def test_healthcheck_script_fails_when_nothing_listens() -> None:
    from netutil import free_port

    code, err = await run_healthcheck(f"127.0.0.1:{free_port()}")
    assert code == 1 and "unhealthy" in err


def test_healthcheck_probe_url() -> None:
    sys.path.insert(0, str(DEPLOY))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(DEPLOY))
    assert healthcheck.probe_url("0.0.0.0:8025", "/healthz") == "http://127.0.0.1:8025/healthz"
    assert healthcheck.probe_url("[::]:8025", "/healthz") == "http://127.0.0.1:8025/healthz"
    assert healthcheck.probe_url("[::1]:9", "/readyz") == "http://[::1]:9/readyz"
    assert healthcheck.probe_url("10.1.2.3:80", "/healthz") == "http://10.1.2.3:80/healthz"


# -- compose ---------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_compose_matches_the_compose_specification() -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["guard"]["ports"] = {"smtp": 2525}
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(broken))
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad))
    assert result.returncode != 0


def test_compose_has_the_whole_stack() -> None:
    services = compose()["services"]
    assert {"guard", "postgres", "prometheus", "grafana", "mailpit"} <= set(services)
    assert services["guard"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (COMPOSE.parent / services["guard"]["build"]["context"] / "deploy" / "Dockerfile").exists()
    upstream = services["guard"]["environment"]["GUARD_SMTP__UPSTREAM"]
    assert upstream.startswith("smtp://mailpit:")
    for name, svc in services.items():
        for dep in svc.get("depends_on", []):
            assert dep in services, f"{name} depends on unknown {dep}"


def test_compose_publishes_on_loopback_only() -> None:
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_compose_bind_mounts_exist() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} missing"


def test_compose_prometheus_and_grafana_load_our_files() -> None:
    services = compose()["services"]
    prom = " ".join(services["prometheus"]["volumes"])
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml" in prom
    graf = " ".join(services["grafana"]["volumes"])
    assert "./grafana/dashboard.json:" in graf
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/guard.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboard.json:{path}/dashboard.json:ro" in services["grafana"]["volumes"]
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["guard:8025"]


# -- Grafana ---------------------------------------------------------------------------------
def test_dashboard_is_valid_grafana_json() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dash["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names == ["datasource", "instance"]


def test_dashboard_panels_do_not_overlap() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    cells: dict[tuple[int, int], str] = {}
    for panel in dash["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


# -- Kubernetes ------------------------------------------------------------------------------
def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_documents() if d["kind"] == kind]


def test_k8s_manifests_match_the_api_schemas() -> None:
    resources = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    files = [str(K8S / name) for name in resources]
    result = run(tool("kubernetes-validate"), "--strict", "--quiet", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_k8s_schema_check_rejects_a_broken_manifest(tmp_path: Path) -> None:
    docs = load_yaml_documents(K8S / "deployment.yaml")
    docs[0]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] = 42
    docs[0]["spec"]["replicas"] = "two"
    bad = tmp_path / "deployment.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    result = run(tool("kubernetes-validate"), "--strict", "--quiet", str(bad))
    assert result.returncode != 0


def test_kustomize_builds_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed; the per-file schema test still covers the manifests")
    result = run(kubectl, "kustomize", str(K8S))
    assert result.returncode == 0, result.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(result.stdout))
    assert kinds.count("ConfigMap") == 2
    built = list(yaml.safe_load_all(result.stdout))
    assert all(d["metadata"].get("namespace") == "outbound-guard" for d in built if d["kind"] != "Namespace")
    deployment = next(d for d in built if d["kind"] == "Deployment")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    config_maps = {d["metadata"]["name"] for d in built if d["kind"] == "ConfigMap"}
    # The generated (hash-suffixed) ConfigMap names are substituted into the Deployment.
    assert {v["configMap"]["name"] for v in volumes if "configMap" in v} == config_maps


def test_k8s_has_every_required_object() -> None:
    kinds = {d["kind"] for d in k8s_documents()}
    assert {"Deployment", "Service", "Secret", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= kinds
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    generated = {g["name"]: g["files"] for g in kust["configMapGenerator"]}
    assert set(generated) == {"guard-config", "guard-rules"}
    for files in generated.values():
        for f in files:
            assert (K8S / f).exists(), f


def test_k8s_deployment_is_replicated_probed_and_locked_down() -> None:
    (deployment,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "guard"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {p["name"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in port_names
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    # The grace period covers the preStop pause plus draining SMTP sessions.
    assert pod["terminationGracePeriodSeconds"] > int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    mounted = {m["name"] for m in container["volumeMounts"]}
    assert mounted == {v["name"] for v in pod["volumes"]}


def test_k8s_services_select_the_guard_and_name_real_ports() -> None:
    (deployment,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "guard"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    services = {s["metadata"]["name"]: s for s in by_kind("Service")}
    assert {"guard-smtp", "guard-http"} <= set(services)
    for name in ("guard-smtp", "guard-http"):
        spec = services[name]["spec"]
        assert spec["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in spec["ports"]} <= port_names
    # relay_networks checks the client address; a Cluster policy would replace it by a node's.
    assert services["guard-smtp"]["spec"]["externalTrafficPolicy"] == "Local"


def test_k8s_pdb_and_hpa_fit_the_deployment() -> None:
    (deployment,) = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "guard"]
    (pdb,) = by_kind("PodDisruptionBudget")
    (hpa,) = by_kind("HorizontalPodAutoscaler")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "guard")
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "cpu" in container["resources"]["requests"], "CPU utilisation needs a CPU request"


def test_k8s_local_rules_load_with_the_real_rule_loader() -> None:
    from guard.inspection.rules import load_detectors

    detectors = load_detectors([], K8S / "local.d")
    assert [d.id for d in detectors] == ["local_employee_id"]


# -- systemd ---------------------------------------------------------------------------------
UNIT = DEPLOY / "systemd" / "guard.service"


def unit_for_this_machine(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this venv (verify checks the binary exists)."""
    text = text or UNIT.read_text(encoding="utf-8")
    text = text.replace("/opt/guard/bin/guard", f"{sys.executable} -m guard")
    path = tmp_path / "guard.service"
    path.write_text(text)
    return path


def test_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    result = run(tool("systemd-analyze"), "verify", str(unit_for_this_machine(tmp_path)))
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_systemd_verify_reports_a_misspelt_directive(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("ProtectHome=yes", "ProtectHomes=yes")
    result = run(tool("systemd-analyze"), "verify", str(unit_for_this_machine(tmp_path, broken)))
    assert "ProtectHomes" in result.stderr


def test_systemd_unit_is_sandboxed(tmp_path: Path) -> None:
    result = run(tool("systemd-analyze"), "security", "--offline=yes", str(unit_for_this_machine(tmp_path)))
    found = re.search(r"Overall exposure level for guard\.service: ([\d.]+)", result.stdout)
    assert found, result.stdout[-500:] + result.stderr
    assert float(found.group(1)) < 3.0


def test_systemd_unit_runs_the_documented_commands() -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "ExecStart=/opt/guard/bin/guard serve --config /etc/guard/guard.toml" in text
    assert "ExecStartPre=/opt/guard/bin/guard check-config --config /etc/guard/guard.toml" in text
    assert re.search(r"^User=guard$", text, re.M) and "NoNewPrivileges=yes" in text
