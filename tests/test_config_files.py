"""Files users write, written wrong (issue 11 item 7): one line naming the file, key and value.

A config, schedule or alert-rule file that is not UTF-8, a section that is a string or a list
where a mapping belongs, a number where a URL belongs: each is ``error: <file>: <key>: <why>``
on stderr and exit 1 — never a ``UnicodeDecodeError`` without the file, nor an
``AttributeError``. The same prefix ``error:`` for every command.
"""

from __future__ import annotations

import pytest

from tests.cli import run


def one_line_error(r) -> str:
    assert r.exit_code == 1, r
    line = r.error_line()
    assert line.startswith("error: "), r
    assert "Traceback" not in r.stderr and "AttributeError" not in line and \
        "UnicodeDecodeError" not in line, r
    return line


@pytest.mark.parametrize("content, needles", [
    ('source: "string"\n', ("source: expected a mapping of source settings",
                            "got the text 'string'")),
    ("smtp: [1, 2]\n", ("smtp: expected a mapping", "got a list")),
    ("state: 5\n", ("state: expected a mapping", "got the number 5")),
    ("llm: yes\n", ("llm: expected a mapping", "got true (a boolean)")),
    ("- source\n- smtp\n", ("expected a mapping (key: value lines) at the top level",
                            "got a list")),
    ("source:\n  lens_url: 5\n  kind: lens\n", ("source.lens_url", "valid string",
                                                "got the number 5")),
    ("prometheus:\n  url: [http://x]\n", ("prometheus.url", "got a list")),
    ("smtp:\n  port: submission\n", ("smtp.port", "got the text 'submission'")),
    ("source:\n  databases: [a, b]\n", ("source.databases", "valid dictionary")),
    ("public_url: 8080\n", ("public_url", "got the number 8080")),
])
def test_malformed_config_shapes_are_one_line(home, config_file, content, needles):
    path = config_file(content)
    line = one_line_error(run("--config", path, "history"))
    assert str(path) in line, line
    for needle in needles:
        assert needle in line, line


def test_a_null_section_is_an_empty_one(home, config_file):
    r = run("--config", config_file("smtp:\nllm:\n"), "history")
    assert r.exit_code == 0 and "no runs recorded yet" in r.stdout, r


def test_non_utf8_files_name_the_file_line_and_byte(home, tmp_path):
    cfg = tmp_path / "latin1.yaml"
    cfg.write_bytes("smtp:\n  from: \"Équipe GPU <gpu@example.com>\"\n".encode("latin-1"))
    line = one_line_error(run("--config", cfg, "history"))
    assert line == (f"error: {cfg}: line 2: not UTF-8 text (byte 0xc9 at offset 15); save the "
                    "file as UTF-8")

    sdir = tmp_path / "schedules"
    sdir.mkdir()
    (sdir / "team.yaml").write_bytes(b"name: team\ncron: '0 7 * * 1'\n# \xff\xfe\n")
    ok = tmp_path / "ok.yaml"
    ok.write_text(f"schedules_dir: {sdir}\n")
    line = one_line_error(run("--config", ok, "scheduler", "list"))
    assert line.startswith(f"error: {sdir / 'team.yaml'}: line 3: not UTF-8 text (byte 0xff")

    (sdir / "team.yaml").unlink()
    (sdir / "alerts.yaml").write_bytes("rules: []\n# café\n".encode("utf-16"))
    line = one_line_error(run("--config", ok, "alerts", "check"))
    assert line.startswith(f"error: {sdir / 'alerts.yaml'}: line 1: not UTF-8 text (byte 0xff")


@pytest.mark.parametrize("content, field", [
    ("- name: team\n", "expected a mapping"),
    ("name: team\ncron: 5\nreports: [weekly]\nrecipients: [a@example.com]\n", "cron"),
    ("name: team\ncron: '0 7 * * 1'\nreports: [weekly]\nrecipients: [5]\n", "recipients.0"),
])
def test_malformed_schedule_shapes_are_one_line(home, tmp_path, content, field):
    sdir = tmp_path / "schedules"
    sdir.mkdir()
    (sdir / "team.yaml").write_text(content)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"schedules_dir: {sdir}\n")
    line = one_line_error(run("--config", cfg, "run", "team", "--dry-run"))
    assert line.startswith(f"error: {sdir / 'team.yaml'}: ") and field in line, line


@pytest.mark.parametrize("content, needle", [
    ("rules: 5\n", "rules"),
    ("channels: [a]\nrules: []\n", "channels"),
    ("channels:\n  x: {type: webhook, url: 5}\nrules: []\n", "channels.x.url"),
    ("check: '*/5 * * * *'\nrules: []\n", "check"),
])
def test_malformed_rule_files_are_one_line_with_the_same_prefix(home, tmp_path, content,
                                                                needle):
    rules = tmp_path / "alerts.yaml"
    rules.write_text(content)
    line = one_line_error(run("alerts", "check", "--rules", rules))
    assert line.startswith(f"error: {rules}: ") and needle in line, line
