"""Installing roomchat prints no deprecation banner from the build backend.

setuptools 77 and later warn on every install about a ``project.license``
written as a TOML table; pyproject.toml uses the SPDX string form instead
(``license = "MIT"``, which needs setuptools 77). pip prepares the package's
metadata from a clean copy of the sources, in its isolated build environment
as ``make run`` does, and the backend's output (``-v``) must hold no warning.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "roomchat", "plugins", "bots", "web"]


def test_pip_prepares_the_metadata_without_a_warning(tmp_path: Path) -> None:
    src = tmp_path / "roomchat"
    src.mkdir()
    ignore = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info", "static", "dist")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "-v",
                           "--disable-pip-version-check", str(src)],
                          capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Would install roomchat-0.1.0" in output
    warnings = [line.strip() for line in output.splitlines() if "Warning" in line or "deprecated" in line.lower()]
    assert warnings == [], "\n".join(warnings)
