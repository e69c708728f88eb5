"""A served worker freezes what it loaded (serve/heap.py), and a reload lets the old go.

Run in a fresh interpreter each: freezing is for the whole process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shopwindow.settings import PROJECT_ROOT

SCRIPT = """
import gc, sys, weakref
from pathlib import Path
from starlette.testclient import TestClient
from shopwindow.serve import heap
from shopwindow.app import create_app
from tests.conftest import build_settings

class Held:
    pass

rules, settle = Path(sys.argv[1]), sys.argv[2] == "settle"
app = create_app(build_settings(rules), watch=False, settle=settle)
# Something loaded before the start that later becomes a cycle of garbage,
# as what the old rules and catalog leave behind on a reload.
held = Held()
held.self = held
gone = weakref.ref(held)
with TestClient(app) as client:
    assert client.get("/healthz").status_code == 200
    frozen = gc.get_freeze_count()
    print("settled", heap.settled(), "frozen", frozen)
    del held
    gc.collect()
    print("after collect alive", gone() is not None)
    (rules / "homepage.yaml").write_text("- id: home-x\\n  then:\\n    path: /x/\\n")
    assert app.shop.reload_if_changed()
    print("after reload alive", gone() is not None, "frozen", gc.get_freeze_count() > 0)
    print("serves", client.get("/", follow_redirects=False).headers["location"])
"""


def _run(rules_dir: Path, mode: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(rules_dir), mode],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_a_settled_worker_freezes_and_a_reload_lets_the_old_go(rules_dir: Path) -> None:
    lines = _run(rules_dir, "settle")
    settled, frozen = lines[0].split()[1], int(lines[0].split()[3])
    assert settled == "True" and frozen > 10_000  # the catalog, the rules, their caches
    # Frozen, a cycle of garbage outlives a full collection...
    assert lines[1] == "after collect alive True"
    # ...until the next reload collects what was frozen and freezes what is new.
    assert lines[2] == "after reload alive False frozen True"
    assert lines[3] == "serves /x/"


def test_an_app_that_is_not_served_freezes_nothing(rules_dir: Path) -> None:
    lines = _run(rules_dir, "plain")
    assert lines[0] == "settled False frozen 0"
    assert lines[1] == "after collect alive False"
    assert lines[2] == "after reload alive False frozen False"
