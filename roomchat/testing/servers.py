"""Real roomchat servers for tests: a subprocess, or a thread of this process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Self

import yaml

from ..config import Config, parse_config, resolve_secrets


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(config: dict[str, Any], directory: str | Path | None = None) -> Path:
    """Write a config dict to a YAML file and return its path."""
    directory = Path(directory or tempfile.mkdtemp(prefix="roomchat-"))
    path = directory / "roomchat.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def wait_healthy(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url``/healthz answers (200, or 503 while the server's Redis is away).

    With ``proc``, the answer counts only once that process holds the listening
    socket: a free port picked by one test can be taken by another test's
    server before this one binds it, and that server would answer instead.
    """
    deadline = time.monotonic() + timeout
    port = urllib.parse.urlsplit(url).port
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"roomchat exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as reply:
                answered = reply.status == 200
        except urllib.error.HTTPError:
            answered = True  # it answers: up, though degraded (503 while its Redis is away)
        except OSError:
            answered = False
        if answered and (proc is None or port is None or holds_listening_port(proc.pid, port) is not False):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer /healthz within {timeout}s")


def holds_listening_port(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds the TCP socket listening on ``port`` (None where /proc cannot tell)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


class ChildProcess:
    """A process a test started, its output in ``log_path``; stopped by its own PID only."""

    proc: subprocess.Popen[bytes] | None = None
    log_path: Path

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes to it until stop() closes it
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: the process dies without cleaning up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        """Everything the process logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class RoomchatProcess(ChildProcess):
    """``roomchat serve`` in its own process on a free loopback port.

    Use as a context manager; ``stop()`` sends SIGTERM and waits, and
    ``kill()`` sends SIGKILL (a crash). Logs go to ``log_path``.
    """

    def __init__(self, config: dict[str, Any] | str | Path, env: dict[str, str] | None = None,
                 port: int | None = None, args: list[str] | None = None) -> None:
        self.config_path = Path(config) if isinstance(config, (str, Path)) else write_config(config)
        self._port_chosen = port is not None  # a restart on the same port must not move elsewhere
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Beside a config the test wrote, or in a temp folder for a config it did not (never in a checkout).
        log_dir = self.config_path.parent if isinstance(config, dict) else Path(tempfile.mkdtemp(prefix="roomchat-log-"))
        self.log_path = log_dir / f"server-{self.port}.log"
        self.env = {**os.environ, **(env or {})}
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Self:
        """Start the server and wait until it answers (on another free port if another test took this one)."""
        for attempt in range(3):
            cmd = [sys.executable, "-m", "roomchat", "serve", "--config", str(self.config_path),
                   "--host", "127.0.0.1", "--port", str(self.port), *self.args]
            self._spawn(cmd, self.env)
            try:
                wait_healthy(self.url, timeout, self.proc)
                return self
            except Exception:  # noqa: BLE001 - whatever went wrong, stop the child and show its log
                self.stop()
                if self._port_chosen or attempt == 2 or "event=not_listening" not in self.log():
                    raise RuntimeError(f"roomchat did not start; its log:\n{self.log()}") from None
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise AssertionError("unreachable")


    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RoomchatThread:
    """A roomchat server running in a thread of this process, on a free loopback port.

    ``plugins`` are objects (modules, classes, instances) registered like any
    plugin, for tests that define a plugin inline. ``clock`` replaces the
    server's clock (a ``roomchat.clock.FakeClock``: then ``advance(seconds)``
    moves it, for mutes, bans and in-process bots' timers). ``start`` waits
    until the configured bots are in their rooms. Unless the config names a
    ``storage.url``, the server keeps its history and state in an SQLite file
    of a temporary folder of its own (never in the working directory).
    """

    def __init__(self, config: dict[str, Any] | Config, plugins: dict[str, object] | None = None,
                 port: int | None = None, clock: Any = None) -> None:
        self.config = config if isinstance(config, Config) else resolve_secrets(parse_config(config), "<test>")
        if "url" not in self.config.storage.model_fields_set:
            folder = Path(tempfile.mkdtemp(prefix="roomchat-data-"))
            storage = self.config.storage.model_copy(update={"url": f"sqlite:///{folder / 'roomchat.sqlite3'}"})
            self.config = self.config.model_copy(update={"storage": storage})
        self.extra_plugins = plugins or {}
        self.clock = clock
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chat: Any = None
        self._server: Any = None
        self._socket: Any = None
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, timeout: float = 20.0) -> Self:
        """Build the server, start uvicorn in a thread (start-up through the ASGI lifespan), wait until it answers."""
        import uvicorn

        from ..app import ChatServer
        from ..serve import listening_socket, uvicorn_config

        self.chat = ChatServer(self.config, "<test>", extra_plugins=self.extra_plugins, clock=self.clock)
        self._socket = listening_socket("127.0.0.1", self.port)
        self.chat.listen_at("127.0.0.1", self.port)
        self._server = uvicorn.Server(uvicorn_config(self.chat))
        self._thread = threading.Thread(target=self._run, name=f"roomchat-{self.port}", daemon=True)
        self._thread.start()
        wait_healthy(self.url, timeout)
        if self.chat.bots.runners:
            self.call(self.chat.bots.wait_joined(timeout), timeout + 1)
        return self

    def advance(self, seconds: float) -> None:
        """Move the server's FakeClock forward, running the timers that fall due (on the server's loop)."""
        self.call(self.clock.advance(seconds))

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        finally:
            # Cancel what the server left (engineio ping tasks, a join mid-way) and close the loop,
            # as asyncio.run() would, so nothing is reported as destroyed while pending.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Shut the server down: every client gets a normal disconnect (``drain``), then uvicorn stops it."""
        if self._server is not None and self._thread is not None:
            if self._thread.is_alive() and self.loop is not None and self.loop.is_running():
                self.call(self.chat.drain(), 15)
            self._server.should_exit = True
            self._thread.join(15)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
