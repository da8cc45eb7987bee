"""Packages a feature needs beyond roomchat's own imports, and the one line that says what to install.

A plain install (``pip install roomchat``, ``make run``) has everything the
server, the bots and clusters need. What it may lack is what only tests use
(``roomchat.testing.ChatClient`` needs ``requests`` and ``websocket-client``,
from the ``test`` extra) and whatever a plugin file imports. ``require``
imports such a module or raises ``MissingPackage``, whose message is one line
naming the feature, the package and the command that installs it into the
environment roomchat runs in. ``roomchat`` (the CLI) prints that line and
exits with code 2 instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


class MissingPackage(Exception):
    """A Python package a roomchat feature needs is not installed; the message says how to install it."""

    def __init__(self, feature: str, package: str, install: str | None = None) -> None:
        self.feature = feature
        self.package = package
        self.install = install or package
        super().__init__(
            f"{feature} needs the Python package {package!r}, which is not installed in this environment: "
            f"run `{install_command(self.install)}`"
        )


def install_command(requirement: str) -> str:
    """The pip command that installs ``requirement`` into the environment this Python runs in."""
    return f"{sys.executable} -m pip install '{requirement}'"


def require(module: str, *, feature: str, package: str | None = None, install: str | None = None) -> ModuleType:
    """Import ``module`` for ``feature``; if it is not installed, raise ``MissingPackage``.

    ``package`` is the distribution that provides it (default: the module's
    top-level name); ``install`` the requirement to suggest (default: the package).
    A module that is there but fails on an import of its own is not reworded.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name not in (module, top):
            raise
        raise MissingPackage(feature, package or top, install) from None
