"""Running the real ``roomchat`` command in tests: a subprocess, its exit code, stdout and stderr.

``roomchat(*args, cwd=..., env=..., missing=("redis",))`` runs ``python -m
roomchat ARGS``; ``missing`` makes those modules unimportable in the child
(``sys.modules[name] = None``, which is how Python itself marks a module that
must not be imported), so a test can see what a user without that package sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

_WITHOUT = (
    "import runpy, sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    if name: sys.modules[name] = None\n"
    "sys.argv = ['roomchat', *sys.argv[2:]]\n"
    "runpy.run_module('roomchat', run_name='__main__', alter_sys=True)\n"
)


def roomchat(*args: str, cwd: str | Path | None = None, env: dict[str, str | None] | None = None,
             missing: Iterable[str] = (), timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``roomchat ARGS`` to the end; ``env`` adds variables (None removes one); ``missing`` modules cannot be imported."""
    missing = list(missing)
    if missing:
        cmd = [sys.executable, "-c", _WITHOUT, ",".join(missing), *args]
    else:
        cmd = [sys.executable, "-m", "roomchat", *args]
    merged = {name: value for name, value in {**os.environ, **(env or {})}.items() if value is not None}
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout, cwd=cwd, env=merged)


def write_yaml(path: Path, data: Any) -> Path:
    """Write ``data`` as YAML to ``path`` and return the path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one_line(text: str) -> str:
    """The only non-empty line of ``text`` (a test fails if there are more)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    return lines[0]
