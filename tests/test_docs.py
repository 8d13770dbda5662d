"""The documentation site: it builds with --strict (a broken link, a missing reference or a
snippet that is not there fails), its reference pages come from the code, and its start
page renders in headless Chromium with its navigation and picture."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


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
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium to render the site (Debian: apt-get install chromium)")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          "--no-first-run", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync",
                          "--allow-file-access-from-files",
                          f"--user-data-dir={tmp_path / 'browser'}", "--virtual-time-budget=5000",
                          "--dump-dom", (site / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<title>stickpose</title>" in dom
    for page in ("Getting started", "Results", "Command line", "Python API"):
        assert page in dom, page                                  # the navigation
    images = dom.split('data-images="')[1].split('"')[0]
    loaded = dom.split('data-images-loaded="')[1].split('"')[0]
    assert int(images) >= 1 and loaded == images                # the picture decoded
