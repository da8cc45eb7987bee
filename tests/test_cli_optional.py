"""Packages: a plain install serves a cluster config (redis is a base dependency), and whatever is
missing anyway (a package a plugin file imports, the test client's HTTP and WebSocket libraries)
is one line that says what to install, never a traceback. Through the real ``roomchat`` command."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from clikit import one_line, roomchat, write_yaml

from roomchat.testing import ChatClient, RoomchatProcess

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"


def cluster_config(tmp_path: Path) -> Path:
    """docs/scaling.md's config: rooms plus a cluster: section (a key prefix of this test's own)."""
    return write_yaml(tmp_path / "roomchat.yaml", {
        "rooms": {"lobby": {"admit": ["guests"]}},
        "cluster": {"redis_url": REDIS_URL, "key_prefix": f"test-cli-{uuid.uuid4().hex[:8]}"},
    })


def redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def test_redis_is_a_base_dependency_not_an_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(dep.replace(" ", "").startswith("redis>=") for dep in project["dependencies"])
    assert project["optional-dependencies"].get("redis") == [], "the old extra stays, empty, for old commands"


@pytest.mark.parametrize("command", [["check"], ["serve", "--port", "0", "--config"]])
def test_a_cluster_config_without_redis_installed_is_one_line_saying_what_to_install(tmp_path, command) -> None:
    done = roomchat(*command, str(cluster_config(tmp_path)), missing=["redis"])
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    line = one_line(done.stderr)
    assert "cluster:" in line and "roomchat.yaml" in line
    assert f"{sys.executable} -m pip install 'redis>=5'" in line


def test_the_scaling_guide_steps_work_from_a_plain_install(tmp_path) -> None:
    """check, then two servers on one Redis, each serving the same room (docs/scaling.md, steps 2 and 3)."""
    if not redis_answers():
        pytest.skip("no Redis at 127.0.0.1:6379")
    path = cluster_config(tmp_path)
    checked = roomchat("check", str(path))
    assert checked.returncode == 0 and "OK" in checked.stdout, checked.stderr
    with RoomchatProcess(path) as one, RoomchatProcess(path) as two:
        with ChatClient(one.url, room="lobby", name="Ann") as ann, ChatClient(two.url, room="lobby", name="Bob") as bob:
            ann.broadcast("text", "across servers")
            assert bob.wait_message()["message"] == {"type": "text", "value": "across servers"}


def test_a_plugin_file_that_imports_a_missing_package_is_one_config_line(tmp_path) -> None:
    (tmp_path / "fancy.py").write_text("import no_such_package_xyz.sub\n")
    path = write_yaml(tmp_path / "roomchat.yaml", {"plugins": {"load": ["fancy.py"]}})
    done = roomchat("check", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("plugins.load: fancy.py: it imports 'no_such_package_xyz', which is not installed "
            "(install the package that provides 'no_such_package_xyz')") in done.stderr


def test_any_other_missing_module_is_one_line_too(tmp_path) -> None:
    """A module no require() guards (uvicorn, for serve): the command's last resort says the same thing."""
    path = write_yaml(tmp_path / "roomchat.yaml", {"rooms": {"lobby": {"admit": ["guests"]}}})
    done = roomchat("serve", "--config", str(path), "--port", "0", missing=["uvicorn"])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "roomchat serve needs the Python package 'uvicorn'" in one_line(done.stderr)


@pytest.mark.parametrize(("missing", "transport", "package"), [
    ("websocket", "websocket", "websocket-client"),
    ("requests", "polling", "requests"),
])
def test_the_test_client_without_its_packages_says_what_to_install(missing, transport, package) -> None:
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            "from roomchat.testing import ChatClient\n"
            f"ChatClient('http://127.0.0.1:9', room='lobby', transport={transport!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("roomchat.requires.MissingPackage: roomchat.testing.ChatClient over ")
    assert f"needs the Python package {package!r}" in last and f"pip install '{package}'" in last


def test_an_installed_plugin_that_imports_a_missing_package_is_one_config_line(tmp_path) -> None:
    """A package's entry point (group roomchat) whose module imports something not installed."""
    site = tmp_path / "site"
    (site / "fancy_pkg-0.1.dist-info").mkdir(parents=True)
    (site / "fancy_pkg-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fancy-pkg\nVersion: 0.1\n")
    (site / "fancy_pkg-0.1.dist-info" / "entry_points.txt").write_text("[roomchat]\nfancy = fancy_plugin\n")
    (site / "fancy_plugin.py").write_text("import no_such_package_xyz\n")
    path = write_yaml(tmp_path / "roomchat.yaml", {"rooms": {"lobby": {"admit": ["guests"]}}})
    done = roomchat("check", str(path), env={"PYTHONPATH": str(site)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "plugin fancy (package fancy-pkg 0.1): invalid configuration",
        ("  - cannot import fancy_plugin: it imports 'no_such_package_xyz', which is not installed (install the "
        "package that provides 'no_such_package_xyz') (or add 'fancy' to plugins.disable)"),
    ]
    write_yaml(path, {"rooms": {"lobby": {"admit": ["guests"]}}, "plugins": {"disable": ["fancy"]}})
    assert roomchat("check", str(path), env={"PYTHONPATH": str(site)}).returncode == 0, "the remedy it names works"
