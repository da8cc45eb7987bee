"""The one build step pyproject.toml cannot declare: the web client's bundle.

setuptools reads everything else from pyproject.toml. This only makes sure
that ``roomchat/web/static`` holds the built web client (docs/web-client.md)
before the package's files are collected: when the bundle is missing it runs
``npm ci && npm run build`` in ``web/`` (socket.io-client and the rest pinned
by ``web/package-lock.json``), so a wheel, or an sdist, carries the whole app
and the server needs no network, CDN or Node.js at run time.

An editable install (``pip install -e .``) is left alone: it serves the source
tree, which ``make run`` / ``make test`` keep built.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
BUNDLE = ROOT / "roomchat" / "web" / "static" / "index.html"


def build_web_client() -> None:
    """Build the web client into roomchat/web/static unless it is there already."""
    if BUNDLE.is_file():
        return
    if not (WEB / "package-lock.json").is_file():
        raise SystemExit("roomchat: the web client is not built, and its sources (web/) are not here to build it")
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("roomchat: building the web client needs Node.js 20 or later with npm "
                         "(https://nodejs.org/), or a bundle built beforehand: cd web && npm ci && npm run build")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    if not BUNDLE.is_file():
        raise SystemExit(f"roomchat: npm run build did not produce {BUNDLE.relative_to(ROOT)}")


class BuildPy(build_py):
    """build_py that builds the web client first (data files are listed lazily, after this)."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            build_web_client()
        super().run()


class SDist(sdist):
    """sdist that carries the built web client, so installing from it needs no npm."""

    def run(self) -> None:
        build_web_client()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": SDist})
