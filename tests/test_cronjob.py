"""cronjob.yaml: valid Kubernetes objects, and consistent with the CLI, the config and schedules."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = list(yaml.safe_load_all((ROOT / "cronjob.yaml").read_text()))
CONFIGMAP = next(d for d in DOCS if d["kind"] == "ConfigMap")
CRONJOBS = [d for d in DOCS if d["kind"] == "CronJob"]


def _pod(cj: dict) -> dict:
    return cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _container(cj: dict) -> dict:
    (c,) = _pod(cj)["containers"]
    return c


@pytest.mark.parametrize("version", ["1.29", "latest"])
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_object_validates_against_the_kubernetes_schema(doc, version):
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version

    v = latest_version() if version == "latest" else version
    kubernetes_validate.validate(doc, v, strict=True)


def test_the_validation_is_not_vacuous():
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    broken = copy.deepcopy(CRONJOBS[0])
    broken["spec"]["startingDeadlineSeconds"] = "soon"  # wrong type
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(broken, "1.29", strict=True)
    typo = copy.deepcopy(CRONJOBS[0])
    typo["spec"]["startingDeadline"] = 60  # unknown field (strict)
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(typo, "1.29", strict=True)


def test_one_cronjob_per_shipped_schedule():
    from reporter.schedules import load_schedules

    shipped = load_schedules(include_shipped=True)
    assert {cj["metadata"]["name"] for cj in CRONJOBS} == {f"gpureport-{n}" for n in shipped}


@pytest.mark.parametrize("cj", CRONJOBS, ids=lambda d: d["metadata"]["name"])
def test_cronjob_policies(cj):
    spec = cj["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert 0 < job["backoffLimit"] <= 6 and job["activeDeadlineSeconds"] > 0
    pod = _pod(cj)
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    c = _container(cj)
    assert set(c["resources"]) == {"requests", "limits"}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("cj", CRONJOBS, ids=lambda d: d["metadata"]["name"])
def test_container_command_is_a_valid_gpureport_invocation(cj):
    """The CronJob's command parses with the real Click CLI into ``run <schedule>``."""
    import tomllib

    from reporter.cli import cli

    c = _container(cj)
    assert c["command"] == ["gpureport"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["gpureport"] == "reporter.cli:main"

    ctx = cli.make_context("gpureport", list(c["args"]))
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    name, cmd, cmd_args = cli.resolve_command(ctx, rest)
    assert name == "run"
    sub = cmd.make_context(name, cmd_args, parent=ctx)
    schedule = cj["metadata"]["name"].removeprefix("gpureport-")
    assert sub.params == {"schedule": schedule, "dry_run": False, "force": False}
    assert ctx.params["config_path"] == "/etc/gpureport/config.yaml"


def _mounted_files(cj: dict) -> dict[str, str]:
    """Absolute path in the container -> ConfigMap key, following volumes and mounts."""
    pod, c = _pod(cj), _container(cj)
    volumes = {v["name"]: v for v in pod["volumes"]}
    files = {}
    for m in c["volumeMounts"]:
        v = volumes[m["name"]]
        if "configMap" in v:
            assert v["configMap"]["name"] == CONFIGMAP["metadata"]["name"]
            for item in v["configMap"]["items"]:
                files[f"{m['mountPath']}/{item['path']}"] = item["key"]
    return files


@pytest.mark.parametrize("cj", CRONJOBS, ids=lambda d: d["metadata"]["name"])
def test_configmap_config_and_schedules_are_valid_and_match_the_cronjob(cj, tmp_path):
    from reporter.config import load_config
    from reporter.schedules import load_schedules

    files = _mounted_files(cj)
    config_path = _container(cj)["args"][1]
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(CONFIGMAP["data"][files[config_path]])
    cfg = load_config(str(cfg_file), env={})
    sdir = tmp_path / "schedules"
    sdir.mkdir()
    for path, key in files.items():
        if path.startswith(cfg.schedules_dir + "/"):
            (sdir / Path(path).name).write_text(CONFIGMAP["data"][key])
    schedules = load_schedules(sdir, include_shipped=False)
    schedule = schedules[cj["metadata"]["name"].removeprefix("gpureport-")]
    assert schedule.enabled
    assert cj["spec"]["schedule"] == schedule.cron
    assert cj["spec"]["timeZone"] == schedule.timezone


@pytest.mark.parametrize("cj", CRONJOBS, ids=lambda d: d["metadata"]["name"])
def test_secrets_are_referenced_not_inlined(cj):
    from reporter.config import ENV_MAP

    env = {e["name"]: e for e in _container(cj)["env"]}
    for name in ("SMTP_USER", "SMTP_PASSWORD", "LLM_API_KEY", "GPUREPORT_STATE_DATABASE_URL"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
        assert "value" not in env[name]
        assert name in ENV_MAP  # the program actually reads it
    assert env["LLM_API_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    config = yaml.safe_load(CONFIGMAP["data"]["config.yaml"])
    assert "password" not in config["smtp"] and not config["llm"].get("api_key")
    assert "database_url" not in config.get("state", {})


def test_dockerfile_matches_the_manifest():
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in text
    assert 'ENTRYPOINT ["gpureport"]' in text
    uid = _pod(CRONJOBS[0])["securityContext"]["runAsUser"]
    assert f"USER {uid}:{uid}" in text and f"--uid {uid}" in text
    assert f"python:{sys.version_info.major}.{sys.version_info.minor}" in text
