"""The documentation site: it builds with --strict (a broken link, a missing reference or a
snippet that is not there fails), its reference pages come from the code, and its start
page renders in headless Chromium with its navigation and picture."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import pictures_loaded, rendered_dom

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_reference_pages_are_generated_from_the_code(site):
    cli = (site / "reference" / "cli" / "index.html").read_text()
    from stickpose.cli import COMMANDS
    for command in COMMANDS:                                   # every command, from click
        assert f"stickpose {command}" in cli, command
    assert "--class-dir" in cli and "--budget" in cli
    api = (site / "reference" / "api" / "index.html").read_text()
    assert "keras_verbosity" in api and "import_results" in api
    results = (site / "results" / "index.html").read_text()
    published = (ROOT / "leaderboards" / "stickman.md").read_text()
    assert "unet" in results and published.splitlines()[1].split("`")[1] in results


def test_the_start_page_renders_in_chromium(site, tmp_path):
    dom = rendered_dom(site / "index.html", tmp_path / "browser")
    assert "<title>stickpose</title>" in dom
    for page in ("Getting started", "Results", "Command line", "Python API"):
        assert page in dom, page                                  # the navigation
    images, loaded = pictures_loaded(dom)
    assert images >= 1 and loaded == images                     # the picture decoded
