"""docs/cdn.md and docs/origin-proxy.md: their rules check, their nginx is the example's, their code runs."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from shopwindow import settings as settings_mod
from shopwindow.cli.main import main
from shopwindow.settings import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
CDN = (DOCS / "cdn.md").read_text()
ORIGIN = (DOCS / "origin-proxy.md").read_text()
EXAMPLE = PROJECT_ROOT / "examples" / "nginx"


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


@pytest.mark.parametrize("block", blocks(CDN, "yaml") + blocks(ORIGIN, "yaml"))
def test_rule_examples_pass_check(block: str, tmp_path: Path) -> None:
    named = re.match(r"# rules/([\w-]+\.yaml)\n", block)
    assert named, "a rule example starts with '# rules/<placement>.yaml'"
    (tmp_path / named.group(1)).write_text(block)
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_the_nginx_shown_is_the_nginx_shipped() -> None:
    shipped = {
        line.strip()
        for path in EXAMPLE.glob("*.conf")
        for line in path.read_text().splitlines()
        if line.strip()
    }
    shown = [line.strip() for block in blocks(CDN, "nginx") for line in block.splitlines()]
    assert shown
    for line in shown:
        if line and not line.startswith("#"):
            assert line in shipped, line


def test_three_cdn_recipes() -> None:
    for heading in ("## Cloudflare Workers", "## Fastly (VCL)", "## CloudFront"):
        assert heading in CDN
    assert len(blocks(CDN, "vcl")) == 1
    assert "sub vcl_recv" in CDN and "restart;" in CDN


def test_every_origin_setting_is_in_the_origin_proxy_doc() -> None:
    for setting in settings_mod.DECLARATIONS:
        if setting.name.startswith("origin") or setting.name == "slot_timeout":
            assert f"`{setting.name}`" in ORIGIN, setting.name


def test_every_test_the_origin_case_table_names_exists() -> None:
    references = re.findall(r"`(tests/\w+\.py)::(test_\w+)`", ORIGIN)
    assert len(references) >= 25
    for file, name in references:
        tree = ast.parse((PROJECT_ROOT / file).read_text())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in names, f"{file}::{name}"


def node() -> str:
    binary = shutil.which("node")
    if binary is None:
        pytest.skip("node is not installed: the recipes' JavaScript is not run")
    return binary


def test_worker_recipe_is_valid_javascript(tmp_path: Path) -> None:
    (worker,) = [b for b in blocks(CDN, "js") if b.startswith("// worker.mjs")]
    path = tmp_path / "worker.mjs"
    path.write_text(worker)
    result = subprocess.run([node(), "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("headers", "segment"),
    [
        ({"cloudfront-viewer-country": "DE", "cloudfront-is-mobile-viewer": "true"}, "DE:mobile"),
        ({"cloudfront-viewer-country": "FR", "cloudfront-is-mobile-viewer": "false"}, "FR:desktop"),
        ({"x-shopwindow-segment": "VIP:everything"}, "XX:desktop"),
    ],
)
def test_cloudfront_function_sets_the_segment_key(
    headers: dict[str, str], segment: str, tmp_path: Path
) -> None:
    (function,) = [b for b in blocks(CDN, "js") if b.startswith("// cloudfront-function")]
    event = {"request": {"uri": "/", "headers": {k: {"value": v} for k, v in headers.items()}}}
    script = tmp_path / "run.js"
    script.write_text(f"{function}\nconsole.log(JSON.stringify(handler({json.dumps(event)})));\n")
    result = subprocess.run([node(), str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)
    assert request["headers"]["x-shopwindow-segment"] == {"value": segment}
    assert request["uri"] == "/"
