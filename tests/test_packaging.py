"""Packaging: every package folder is listed in pyproject.toml, and the built-ins install as
``roomchat_plugins`` / ``roomchat_bots``, never as top-level ``plugins`` or ``bots``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Source folder -> the package name it installs as (pyproject's package-dir).
SOURCES = {"roomchat": "roomchat", "plugins": "roomchat_plugins", "bots": "roomchat_bots"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def package_folders() -> dict[str, Path]:
    """Installed package name -> folder, for every folder with an __init__.py under the sources."""
    found: dict[str, Path] = {}
    for folder, package in SOURCES.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue
            found[".".join([package, *relative.parts])] = init.parent
    return found


def test_package_dir_maps_the_sources() -> None:
    assert pyproject()["tool"]["setuptools"]["package-dir"] == {package: folder for folder, package in SOURCES.items()}


def test_every_package_folder_is_listed() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    missing = sorted(set(package_folders()) - listed)
    assert not missing, f"add these to packages = [...] in pyproject.toml: {missing}"


def test_every_listed_package_exists() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    stale = sorted(listed - set(package_folders()))
    assert not stale, f"pyproject.toml lists packages with no folder (or no __init__.py): {stale}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """A wheel built from a clean copy of the sources (no stale build/ folder can leak in).

    The copy has the web client's sources (web/) but not its built bundle, so the
    wheel's build step (setup.py) must build it with npm, as on a fresh clone.
    """
    if shutil.which("npm") is None:
        pytest.skip("building a wheel builds the web client, which needs Node.js and npm")
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", ".*")

    def ignore_bundle(folder: str, names: list[str]) -> set[str]:
        skipped = set(ignore(folder, names))
        return skipped | ({"static"} if Path(folder) == ROOT / "roomchat" / "web" else set())

    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.py", "MANIFEST.in"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    for folder in SOURCES:
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore_bundle)
    shutil.copytree(ROOT / "web", src / "web", ignore=ignore)
    assert not (src / "roomchat" / "web" / "static").exists()
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    [path] = out.glob("roomchat-*.whl")
    with zipfile.ZipFile(path) as built:
        yield built


def test_the_wheel_has_no_top_level_plugins_or_bots(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist()}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"roomchat", "roomchat_plugins", "roomchat_bots"}
    assert len(dist_info) == 1


def test_the_wheel_holds_every_module(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    missing = []
    for package, folder in package_folders().items():
        for module in folder.glob("*.py"):
            inside = "/".join([*package.split("."), module.name])
            if inside not in names:
                missing.append(inside)
    assert not missing, missing


def test_the_wheel_holds_the_bots_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for data in (ROOT / "bots").rglob("*.yaml"):
        assert "roomchat_bots/" + data.relative_to(ROOT / "bots").as_posix() in names


def test_the_wheel_holds_the_web_client(wheel: zipfile.ZipFile) -> None:
    """Built at packaging time from web/ (npm ci, pinned by the lockfile): classrooms run offline."""
    names = set(wheel.namelist())
    assert "roomchat/web/static/index.html" in names
    index = wheel.read("roomchat/web/static/index.html").decode()
    scripts = [n for n in names if n.startswith("roomchat/web/static/assets/") and n.endswith(".js")]
    assert len(scripts) == 1 and f'src="/web/{scripts[0].removeprefix("roomchat/web/static/")}"' in index
    bundle = wheel.read(scripts[0]).decode()
    assert "socket.io" in bundle or "engine.io" in bundle  # socket.io-client is bundled, not fetched from a CDN
    assert "http://" not in index and "https://" not in index
    assert not any("node_modules" in n for n in names)


def test_the_wheel_declares_the_command_and_the_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[console_scripts]" in text and "roomchat = roomchat.cli:main" in text
    assert "[pytest11]" in text and "roomchat = roomchat.testing.pytest_plugin" in text


def test_installed_names(tmp_path: Path) -> None:
    """In this environment (an editable install), from a folder that is not the checkout."""
    code = ("import importlib.util as u; "
            "print([n for n in ('plugins', 'bots') if u.find_spec(n)]); "
            "print([n for n in ('roomchat', 'roomchat_plugins', 'roomchat_bots') if not u.find_spec(n)])")
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "[]"], done.stdout
