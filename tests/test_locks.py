"""The one lock helper (rdapctl.store.locks): exclusive, private, released on close,
non-blocking tries and bounded waits on an injected clock."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rdapctl.core.errors import ConfigError
from rdapctl.store.locks import POLL_S, LockFile, LockTimeout, held, try_lock, wait_lock


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_two_descriptors_contend_and_close_releases(tmp_path: Path) -> None:
    """A second open file of the same lock cannot take it until the first is closed."""
    path = tmp_path / "a.lock"
    first = LockFile.open(path)
    second = LockFile.open(path)
    try:
        assert first.try_lock() is True
        assert second.try_lock() is False
        first.close()
        assert second.try_lock() is True
    finally:
        first.close()
        second.close()
    first.close()  # closing twice is harmless


def test_held_is_exclusive_for_the_with_block(tmp_path: Path) -> None:
    path = tmp_path / "b.lock"
    with held(path) as lock:
        assert lock.fd >= 0
        with LockFile.open(path) as other:
            assert other.try_lock() is False
    assert lock.fd == -1
    with LockFile.open(path) as other:
        assert other.try_lock() is True


_HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rdapctl.store.locks import held
    with held(Path(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    """
)


def test_another_process_holding_the_lock_blocks_a_try(tmp_path: Path) -> None:
    """Two processes contend: the parent's try fails while the child holds the lock."""
    path = tmp_path / "c.lock"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        with LockFile.open(path) as mine:
            assert mine.try_lock() is False
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "released"
            assert mine.try_lock() is True
    assert child.returncode == 0


def test_bounded_wait_gives_up_on_the_injected_clock(tmp_path: Path) -> None:
    """A bounded wait retries with growing pauses and raises LockTimeout, no real sleep."""
    path = tmp_path / "d.lock"
    fake = FakeTime()
    with held(path), LockFile.open(path) as waiter:
        with pytest.raises(LockTimeout) as info:
            waiter.lock(0.05, clock=fake.clock, sleep=fake.sleep)
        assert info.value.path == path
        assert "0.05s" in str(info.value)
    assert fake.sleeps[: len(POLL_S)] == list(POLL_S)
    assert all(s <= max(POLL_S) for s in fake.sleeps)
    assert fake.now - 100.0 >= 0.05


def test_bounded_wait_takes_the_lock_once_released(tmp_path: Path) -> None:
    """The holder lets go during the wait: the waiter gets the lock (True)."""
    path = tmp_path / "e.lock"
    holder = LockFile.open(path)
    assert holder.try_lock()
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if len(fake.sleeps) == 3:
            holder.close()

    with LockFile.open(path) as waiter:
        assert wait_lock(waiter.fd, 10.0, clock=fake.clock, sleep=sleep) is True
    assert len(fake.sleeps) == 3
    holder.close()


def test_unbounded_wait_and_free_lock_need_no_sleep(tmp_path: Path) -> None:
    fake = FakeTime()
    with LockFile.open(tmp_path / "f.lock") as lock:
        assert wait_lock(lock.fd, 1.0, clock=fake.clock, sleep=fake.sleep) is True
        assert wait_lock(lock.fd, None) is True  # flock on a lock we hold: no wait
    assert fake.sleeps == []


def test_try_lock_works_on_any_open_file(tmp_path: Path) -> None:
    """The batch --output file is locked through the same helper."""
    out = tmp_path / "out.jsonl"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    other = os.open(out, os.O_RDONLY)
    try:
        assert try_lock(fd) is True
        assert try_lock(other) is False
    finally:
        os.close(fd)
        os.close(other)


def test_lock_file_is_private_and_close_on_exec(tmp_path: Path) -> None:
    """Created 0600 whatever the umask; the descriptor is not inherited by children."""
    path = tmp_path / "g.lock"
    old = os.umask(0)
    try:
        lock = LockFile.open(path)
    finally:
        os.umask(old)
    with lock:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert fcntl.fcntl(lock.fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    assert "g.lock" in repr(lock)


def test_lock_file_writable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.lock"
    path.touch()
    path.chmod(0o666)
    with pytest.raises(ConfigError, match="writable by group or others"):
        LockFile.open(path)


def test_lock_file_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.touch(mode=0o600)
    (tmp_path / "i.lock").symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        LockFile.open(tmp_path / "i.lock")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_lock_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.lock"
    path.touch(mode=0o600)
    os.chown(path, 12345, 12345)
    with pytest.raises(ConfigError, match="owned by uid 12345"):
        LockFile.open(path)
