"""The compiled request path (setup.py): in use where it was built, the same answers as the source."""

from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shopwindow import SourceFinder, build, compiled_files, compiled_modules, stale
from shopwindow.settings import PROJECT_ROOT

from .conftest import STRICT, steady_visitor_cookie

EVENTS = [
    {"type": "view", "product_id": "w-run-001"},
    {"type": "search", "query": "running shoes"},
    {"type": "add_to_cart", "product_id": "w-bag-001"},
]

# Every hot answer, and a few that take the full stack.
PATHS = [
    "/",
    "/?utm_source=google&utm_campaign=spring&utm_term=womens+running+shoes",
    "/_sw/popup?trigger=exit",
    "/_sw/fragments/recently-viewed",
    "/_sw/fragments/recommendations?product_id=w-run-001",
    "/de/women/",
    "/de/women/running-shoes/",
    "/lp/summer-sandals",
    "/p/w-run-001",
    "/healthz",
    # What a visitor controls: both builds answer it alike, never with a 500,
    # never echoing markup, never redirecting off the site.
    "/?utm_source=%3Cscript%3Ealert(1)%3C%2Fscript%3E&utm_campaign=x&utm_term=%ZZ",
    "/_sw/popup?trigger=%3Cscript%3E&product=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/_sw/fragments/recommendations?product_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/de/women",
    "//evil.example/%2e%2e/",
    "/lp/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
]

# Run in a fresh interpreter: answers to PATHS for one cookie, and what ran compiled.
ANSWERS = """
import hashlib, json, sys
from pathlib import Path
from starlette.testclient import TestClient
import shopwindow
from shopwindow.app import create_app
from tests.conftest import build_settings

rules, cookie, paths = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
client = TestClient(create_app(build_settings(rules), watch=False), follow_redirects=False)
out = {}
for path in paths:
    client.cookies.clear()
    r = client.get(path, headers={"Cookie": f"sw={cookie}"})
    headers = sorted((k, v) for k, v in r.headers.items() if k not in ("set-cookie", "date"))
    out[path] = [
        r.status_code,
        headers,
        hashlib.sha256(r.content).hexdigest(),
        b"<script>alert(1)" in r.content,
    ]
print(json.dumps({"compiled": shopwindow.compiled_modules(), "answers": out}))
"""


def _setup_modules() -> set[str]:
    """The modules setup.py compiles, read from its COMPILED tuple."""
    tree = ast.parse((PROJECT_ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED":
            return set(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no COMPILED tuple")


def _answers(rules_dir: Path, name: str, cookie: str, **env: str) -> dict[str, object]:
    rules = rules_dir.parent / name
    shutil.copytree(rules_dir, rules, ignore=shutil.ignore_patterns("*.sqlite3*"))
    environment = {k: v for k, v in os.environ.items() if k != "SHOPWINDOW_PURE"} | env
    done = subprocess.run(
        [sys.executable, "-c", ANSWERS, str(rules), cookie, json.dumps(PATHS)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_every_module_setup_compiles_is_a_module() -> None:
    package = PROJECT_ROOT / "src" / "shopwindow"
    assert _setup_modules()
    assert all((package / f"{name}.py").is_file() for name in _setup_modules())


def test_the_request_path_runs_compiled_where_it_was_built() -> None:
    built = set(compiled_files())
    if os.environ.get("SHOPWINDOW_PURE") == "1":
        pytest.skip("SHOPWINDOW_PURE=1: the source is what runs")
    if not built:
        message = "nothing compiled (make compile needs Cython and a C compiler)"
        if STRICT:
            pytest.fail(message)
        pytest.skip(message)
    # Every listed module compiled (a failed C build is only a warning), none stale.
    assert built == _setup_modules()
    assert not stale()
    importlib.import_module("shopwindow.app")  # the request path
    assert {"fastlane", "web", "context", "visitor", "rules", "homepage"} <= set(compiled_modules())
    assert build() == f"compiled: {len(built)} modules"


def test_compiled_and_source_give_the_same_answers(rules_dir: Path, client: TestClient) -> None:
    if not compiled_files():
        pytest.skip("nothing compiled to compare with the source")
    answer = client.post(
        "/_sw/events", json=EVENTS, headers={"Cookie": f"sw={steady_visitor_cookie()}"}
    )
    cookie = answer.cookies["sw"]

    compiled = _answers(rules_dir, "compiled", cookie)
    source = _answers(rules_dir, "source", cookie, SHOPWINDOW_PURE="1")

    assert source["compiled"] == []
    assert {"fastlane", "web", "homepage"} <= set(compiled["compiled"])  # type: ignore[arg-type]
    assert compiled["answers"] == source["answers"]
    statuses = {path: answer[0] for path, answer in source["answers"].items()}  # type: ignore[attr-defined, index]
    assert statuses["/"] == 302 and statuses["/_sw/popup?trigger=exit"] == 200
    assert statuses["/de/women/"] == 200 and statuses["/healthz"] == 200
    for path, (status, headers, _digest, markup) in source["answers"].items():  # type: ignore[attr-defined]
        assert status < 500 and not markup, path
        location = dict(headers).get("location", "/")
        assert location.startswith("/") and not location.startswith(("//", "/\\")), path


def _fake_package(root: Path) -> Path:
    package = root / "fakeshop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hot.py").write_text("WHERE = 'source'\n")
    # Not a loadable extension: importing it fails unless the source is chosen.
    (package / f"hot{EXTENSION_SUFFIXES[0]}").write_bytes(b"not an ELF file")
    return package


def test_a_module_edited_after_compiling_is_stale(tmp_path: Path) -> None:
    package = _fake_package(tmp_path)
    compiled = package / f"hot{EXTENSION_SUFFIXES[0]}"
    source = package / "hot.py"
    os.utime(source, (1_000_000, 1_000_000))
    os.utime(compiled, (2_000_000, 2_000_000))
    assert compiled_files(package) == {"hot": compiled}
    assert stale(package) == set()
    os.utime(source, (3_000_000, 3_000_000))
    assert stale(package) == {"hot"}


def test_the_source_finder_imports_the_source_over_the_compiled_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _fake_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError):
        __import__("fakeshop.hot")
    sys.modules.pop("fakeshop.hot", None)
    monkeypatch.setattr(
        sys, "meta_path", [SourceFinder("fakeshop", package, {"hot"}), *sys.meta_path]
    )
    module = __import__("fakeshop.hot", fromlist=["WHERE"])
    assert module.WHERE == "source"
    assert module.__file__ == str(package / "hot.py")
    for name in ("fakeshop.hot", "fakeshop"):
        sys.modules.pop(name, None)


def test_without_a_compiler_the_build_succeeds_as_pure_python(tmp_path: Path) -> None:
    """No C compiler: each module's build fails with a warning, the install does not."""
    shutil.copy2(PROJECT_ROOT / "setup.py", tmp_path / "setup.py")
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy2(PROJECT_ROOT / "README.md", tmp_path / "README.md")
    source = PROJECT_ROOT / "src" / "shopwindow"
    package = tmp_path / "src" / "shopwindow"
    # The generated C comes along (newer than its source), so only compiling is tried.
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    environment = {k: v for k, v in os.environ.items() if k != "SHOPWINDOW_PURE"}
    done = subprocess.run(
        [sys.executable, "setup.py", "--quiet", "build_ext", "--inplace"],
        cwd=tmp_path,
        env=environment | {"CC": "/bin/false"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("failed") >= len(_setup_modules())
    assert compiled_files(package) == {}
    ran = subprocess.run(
        [sys.executable, "-c", "import shopwindow.app, shopwindow; print(shopwindow.build())"],
        cwd=tmp_path,
        env=environment | {"PYTHONPATH": str(tmp_path / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.stdout.strip() == "pure Python", ran.stderr[-3000:]
