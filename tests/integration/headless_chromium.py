"""Headless Chromium for the tests that look at what a user sees: the report, the dashboard, the demo's
terminal. One place for finding the browser, its command line and the checks that a screenshot shows a
drawn page (not a blank or one-colour one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from matplotlib.image import imread

#: Why a browser test skips (``make test`` installs Chromium through ``make browser`` where it can).
MISSING = "no chromium or chromium-browser on PATH (make test installs it: make browser)"


def find() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def command(browser: str, profile: Path, width: int, height: int, *extra: str) -> list[str]:
    """A headless run with its own profile and a fixed window; ``extra`` adds the action and the URL."""
    return [
        browser,
        "--headless",
        "--no-sandbox",  # tests may run as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        *extra,
    ]


def assert_drawn(
    png: Path, size: tuple[int, int], background: tuple[int, int, int], at: tuple[int, int]
) -> None:
    """The screenshot is ``size`` (width, height), has many colours, and the page's own ``background``
    colour at pixel ``at`` (row, column; negative counts from the end): the page rendered."""
    pixels = imread(png)
    assert pixels.shape[:2] == (size[1], size[0]), f"{png.name}: {pixels.shape[:2]}"
    rgb = np.round(pixels[..., :3] * 255).astype(np.int64)
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 50, f"{png.name} is (nearly) one colour"
    assert tuple(rgb[at]) == background, f"{png.name}: the page's background is not there"


def shrink(png: Path, colours: int) -> None:
    """Kept small as an artifact: a palette of ``colours`` keeps it readable at a fraction of the bytes."""
    try:
        from PIL import Image  # installed with matplotlib (the test extras); without it the PNG stays
    except ImportError:
        return
    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.FASTOCTREE)
    small.save(png, optimize=True)
