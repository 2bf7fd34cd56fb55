"""A real redis-server (Debian's package) on a free loopback port, for the team backend's
tests and benchmark: started and stopped by the test, with its own folder, no
persistence, a password."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

PASSWORD = "s3cr3t-Redis-pw-9f1c"


def _drain(stream: IO[bytes]) -> None:
    with stream:
        for _line in stream:
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process; :meth:`start` returns once it accepts connections."""

    def __init__(self, folder: Path, *, password: str | None = PASSWORD) -> None:
        self.folder = folder
        self.password = password
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
            "--loglevel",
            "notice",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        # The server says when it is ready: read its log until then (an event, no polling).
        for line in self.proc.stdout:
            if b"Ready to accept connections" in line:
                # Its later log lines are read (and dropped) so that it never blocks on
                # a full pipe.
                threading.Thread(target=_drain, args=(self.proc.stdout,), daemon=True).start()
                return self
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        self.proc = None

    def url(self, *, with_password: bool = True, db: int = 0) -> str:
        auth = f":{self.password}@" if (with_password and self.password) else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password)

    def dump(self) -> list[tuple[bytes, bytes]]:
        """Every key and every value (strings, hashes and stream entries, raw)."""
        client = self.client()
        out: list[tuple[bytes, bytes]] = []
        for name in client.scan_iter(count=1000):
            kind = client.type(name)
            if kind == b"string":
                out.append((name, client.get(name) or b""))
            elif kind == b"hash":
                for field, value in client.hgetall(name).items():
                    out.append((name, field + b"=" + value))
            elif kind == b"stream":
                for entry_id, fields in client.xrange(name):
                    for field, value in fields.items():
                        out.append((name, entry_id + b" " + field + b"=" + value))
            else:
                out.append((name, b"<" + kind + b">"))
        client.close()
        return out
