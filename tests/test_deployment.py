"""deployment.yaml: valid Kubernetes objects, consistent with ``gpureport serve``, the Dockerfile
and the ConfigMap of cronjob.yaml."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from reporter.serve.server import GRACE_S

ROOT = Path(__file__).resolve().parents[1]
DOCS = list(yaml.safe_load_all((ROOT / "deployment.yaml").read_text()))
DEPLOYMENT = next(d for d in DOCS if d["kind"] == "Deployment")
SERVICE = next(d for d in DOCS if d["kind"] == "Service")
CONFIGMAP = next(d for d in yaml.safe_load_all((ROOT / "cronjob.yaml").read_text())
                 if d["kind"] == "ConfigMap")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]


@pytest.mark.parametrize("version", ["1.29", "latest"])
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_object_validates_against_the_kubernetes_schema(doc, version):
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version

    kubernetes_validate.validate(doc, latest_version() if version == "latest" else version,
                                 strict=True)


def test_the_validation_is_not_vacuous():
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    broken = copy.deepcopy(DEPLOYMENT)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, "1.29", strict=True)


def test_the_container_runs_gpureport_serve_on_all_interfaces():
    from reporter.cli import cli

    assert CONTAINER["command"] == ["gpureport"]
    ctx = cli.make_context("gpureport", list(CONTAINER["args"]))
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    name, cmd, cmd_args = cli.resolve_command(ctx, rest)
    assert name == "serve"
    sub = cmd.make_context(name, cmd_args, parent=ctx)
    assert sub.params == {"host": "0.0.0.0", "port": 8001, "workers": None}
    assert ctx.params["config_path"] == "/etc/gpureport/config.yaml"
    (port,) = CONTAINER["ports"]
    assert port["containerPort"] == 8001 and port["name"] == "http"


def test_probes_resources_and_a_locked_down_pod():
    assert CONTAINER["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert CONTAINER["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert CONTAINER["readinessProbe"]["timeoutSeconds"] > 5  # /readyz gives up after 5 s
    assert set(CONTAINER["resources"]) == {"requests", "limits"}
    assert POD["securityContext"]["runAsNonRoot"] is True and POD["securityContext"]["runAsUser"] != 0
    sc = CONTAINER["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert POD["terminationGracePeriodSeconds"] > GRACE_S
    writable = {m["mountPath"] for m in CONTAINER["volumeMounts"] if not m.get("readOnly")}
    assert {"/tmp", "/var/lib/gpureport"} <= writable


def test_the_service_selects_the_pods_and_the_token_is_a_secret():
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert SERVICE["spec"]["selector"].items() <= labels.items()
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert SERVICE["spec"]["ports"][0]["targetPort"] == "http"
    env = {e["name"]: e for e in CONTAINER["env"]}
    for name in ("GPUREPORT_SERVER_TOKEN", "GPUREPORT_STATE_DATABASE_URL", "LLM_API_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"] and "value" not in env[name]


def test_the_config_it_mounts_is_the_cronjobs_configmap_and_loads(tmp_path):
    from reporter.config import load_config

    (volume,) = [v for v in POD["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == CONFIGMAP["metadata"]["name"]
    path = tmp_path / "config.yaml"
    path.write_text(CONFIGMAP["data"]["config.yaml"])
    cfg = load_config(str(path), env={"GPUREPORT_SERVER_TOKEN": "t"})
    assert cfg.server.token.get_secret_value() == "t"


def test_the_dockerfile_can_run_serve():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["gpureport"]' in text and "EXPOSE 8001" in text
    assert "serve --host 0.0.0.0" in text
