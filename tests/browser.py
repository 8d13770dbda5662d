"""Rendering a local page in headless Chromium, for the tests of what people look at (the
report, the documentation site); a test skips, with the reason, where there is none."""
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def rendered_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after Chromium has loaded it and run its scripts (``profile``: a
    throw-away folder for the browser's state)."""
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium to render the page (Debian: apt-get install chromium)")
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           "--allow-file-access-from-files", f"--user-data-dir={profile}",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120).stdout


def pictures_loaded(dom: str) -> tuple[int, int]:
    """(pictures, pictures decoded), as the page's ``data-images`` attributes say."""
    images = dom.split('data-images="')[1].split('"')[0]
    loaded = dom.split('data-images-loaded="')[1].split('"')[0]
    return int(images), int(loaded)
