"""Every ``gpureport ask`` example in the README answers on the demo, on a Thursday and on a
Monday morning (issue 12 item 2): exit 0, an answer that names its scope, no "0.0%" standing in
for data that is not there, and the example's language kept. A README edit that adds a question
the agent cannot answer fails here, not in a newcomer's terminal.

The examples are read from README.md itself (every ``gpureport ask "…" [options]`` in a code
block); conversational ones (``--session``) need the turn before them and are left to
tests/test_sessions.py.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli import run
from tests.conftest import MONDAY_ISO, NOW_ISO

README = Path(__file__).resolve().parents[1] / "README.md"
ASK = re.compile(r'^\s*(?:\$\s*)?gpureport ask ("[^"]+"[^#`\n]*)', re.M)
CJK = re.compile(r"[\u3400-\u9fff]")


def examples() -> list[list[str]]:
    found = []
    for m in ASK.finditer(README.read_text(encoding="utf-8")):
        args = shlex.split(m.group(1))
        if "--session" not in args and args not in found:
            found.append(args)
    return found


EXAMPLES = examples()


def test_the_readme_has_examples_to_check():
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("args", EXAMPLES, ids=[a[0][:40] for a in EXAMPLES])
@pytest.mark.parametrize("day", ["thursday", "monday"])
def test_every_readme_question_answers_on_the_demo(args, day, demo_store, monday_demo_store):
    store, now = (demo_store, NOW_ISO) if day == "thursday" else (monday_demo_store, MONDAY_ISO)
    r = run("--now", now, "ask", *args, "--json", env={"GPUREPORT_DATABASE_URL": store.url})
    assert r.exit_code == 0, r
    out = r.json()
    assert out["answer"].strip(), r
    assert out["intent"] != "help", r  # an example is a question gpureport answers
    if CJK.search(args[0]):
        assert CJK.search(out["answer"]), r
    if out["intent"] not in ("discovery", "history"):
        assert "0.0%" not in out["answer"].split(".")[0], r
