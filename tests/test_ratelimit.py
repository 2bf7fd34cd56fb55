"""The per-host gate's shared state under a clock that misbehaves, and at low rates.
Real state files; an injected clock and an injected wait that records instead of
sleeping."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from rdapctl.net.ratelimit import MAX_BLOCK_S, HostGate

NOW = 1_800_000_000.0
URL = "http://127.0.0.1:8080/domain/example.com"


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.seconds.append(seconds)
        return False  # nobody asked the run to stop


def _gate(tmp_path: Path, waits: Waits, rate: float, concurrent: int = 64) -> HostGate:
    return HostGate(
        tmp_path,
        max_concurrent=concurrent,
        requests_per_second=rate,
        clock=lambda: NOW,
        wait=waits,
    )


def _state_file(tmp_path: Path) -> Path:
    return tmp_path / hashlib.sha256(b"127.0.0.1:8080").hexdigest()[:32]


def test_times_left_in_the_future_by_a_clock_step_back_are_reset(tmp_path: Path) -> None:
    """After the clock stepped back an hour, the shared arrival time and a Retry-After
    block sit an hour (a day) ahead: no run may wait for them."""
    tmp_path.chmod(0o700)
    _state_file(tmp_path).write_bytes(struct.pack(">dd", NOW + 3600, NOW + 86_400))
    waits = Waits()
    gate = _gate(tmp_path, waits, rate=5.0)
    try:
        assert gate.blocked_s(URL) == 0.0
        gate.acquire(URL)()
        gate.acquire(URL)()
    finally:
        gate.close()
    assert [round(w, 3) for w in waits.seconds] == [0.2]  # one interval after the first


def test_low_rates_space_every_request_instead_of_bunching_past_a_cap(tmp_path: Path) -> None:
    """One request every 100 s, eight waiting: the eighth starts 700 s on, not with
    the others at a 300 s cap."""
    waits = Waits()
    gate = _gate(tmp_path, waits, rate=0.01)
    try:
        for _ in range(8):
            gate.acquire(URL)  # eight lookups holding their slots, waiting their turn
    finally:
        gate.close()
    assert [round(w) for w in waits.seconds] == [100, 200, 300, 400, 500, 600, 700]


def test_a_retry_after_of_days_blocks_the_host_for_an_hour_at_most(tmp_path: Path) -> None:
    """The block is kept for later runs too: a bogus header cannot shut a registry off."""
    waits = Waits()
    gate = _gate(tmp_path, waits, rate=5.0)
    try:
        gate.retry_after(URL, 10 * 86_400)
        assert gate.blocked_s(URL) == MAX_BLOCK_S
    finally:
        gate.close()


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def test_a_run_reaching_many_hosts_holds_no_file_per_host(tmp_path: Path) -> None:
    """Registrar referrals reach hundreds of hosts: a state file held open per host
    ran a run out of file descriptors near a thousand."""
    gate = _gate(tmp_path, Waits(), rate=100.0)
    before = _open_fds()
    try:
        for i in range(300):
            release = gate.acquire(f"http://rdap{i}.registrar.test/domain/example.com")
            release()
        assert _open_fds() - before <= 2
    finally:
        gate.close()
    assert len(list(tmp_path.iterdir())) == 300  # the shared state is still kept per host


def test_a_block_set_by_another_process_marks_the_gate_slowed(tmp_path: Path) -> None:
    """A batch worker adds lookup threads once a host is slowed (waiting lookups hold
    no slot, so others can go on): a Retry-After that another worker process received
    counts too."""
    tmp_path.chmod(0o700)
    _state_file(tmp_path).write_bytes(struct.pack(">dd", 0.0, NOW + 2.0))
    waits = Waits()
    gate = _gate(tmp_path, waits, rate=5.0)
    try:
        assert not gate.slowed.is_set()
        gate.acquire(URL)()
        assert gate.slowed.is_set()
    finally:
        gate.close()
    assert waits.seconds[0] == 2.0


class OneSlotGate:
    """A gate with one slot in all and a clock that moves only by its waits. The
    first wait delivers another lookup's Retry-After (5 s); every later one looks up
    another host, which only works when the waiting lookup holds no slot. A poll for
    a busy slot stops the run instead of spinning."""

    def __init__(self, tmp_path: Path, rate: float) -> None:
        self.now = NOW
        self.waits: list[float] = []
        self.gate = HostGate(
            tmp_path,
            max_concurrent=1,
            max_total=1,
            requests_per_second=rate,
            clock=lambda: self.now,
            wait=self._wait,
        )

    def _wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if seconds == 0:
            return True
        if len(self.waits) == 1:
            self.gate.retry_after(URL, 5.0)  # another lookup's answer, meanwhile
        else:
            self.gate.acquire("http://other.example/domain/example.com")()  # a free slot
        self.now += seconds
        return False


def test_a_retry_after_arriving_meanwhile_is_waited_out_holding_no_slot(tmp_path: Path) -> None:
    """A lookup that took its slots just as another lookup's answer blocked the host
    gives them back while it waits: lookups for other hosts go on (one slot in all)."""
    lab = OneSlotGate(tmp_path, rate=0.0)
    try:
        lab.gate.retry_after(URL, 2.0)
        lab.gate.acquire(URL)()
    finally:
        lab.gate.close()
    assert lab.waits == [2.0, 3.0]  # the new block, from when it was set


def test_a_retry_after_arriving_during_a_rate_wait_is_waited_out_holding_no_slot(
    tmp_path: Path,
) -> None:
    """A lookup waiting for its turn under requests_per_second when another lookup's
    answer blocks the host does not go ahead at its turn: it gives its slots back and
    waits out the block."""
    lab = OneSlotGate(tmp_path, rate=1.0)
    try:
        lab.gate.acquire(URL)()  # the first token: no wait
        lab.gate.acquire(URL)()  # its turn in 1 s; the block comes during that wait
    finally:
        lab.gate.close()
    assert lab.waits == [1.0, 4.0]


def test_a_long_block_is_not_taken_for_stale_by_a_reader_a_moment_behind(
    tmp_path: Path,
) -> None:
    """Another process that read its clock a moment before the block was set at
    "now + an hour" must still see the block, not reset it."""
    setter = _gate(tmp_path, Waits(), rate=5.0)
    behind = HostGate(
        tmp_path, max_concurrent=4, requests_per_second=5.0, clock=lambda: NOW - 1, wait=Waits()
    )
    try:
        setter.retry_after(URL, 10 * 86_400)
        assert behind.blocked_s(URL) == MAX_BLOCK_S + 1
        assert setter.blocked_s(URL) == MAX_BLOCK_S
    finally:
        setter.close()
        behind.close()


def test_checking_a_host_nobody_asked_creates_nothing(tmp_path: Path) -> None:
    """Redirect targets are checked for a block before the network guard sees them: a
    host no run has asked leaves no state behind."""
    gate = _gate(tmp_path, Waits(), rate=5.0)
    try:
        for i in range(50):
            assert gate.blocked_s(f"http://127.0.0.1:9999{i}/domain/example.com") == 0.0
    finally:
        gate.close()
    assert list(tmp_path.iterdir()) == []


def test_one_host_one_key_whatever_the_spelling() -> None:
    """The scheme's own port and an IDN's Unicode or A-label form name the same host
    (httpx reports answers by A-labels)."""
    from rdapctl.net.ratelimit import host_key

    assert host_key("https://rdap.example:443/x") == host_key("https://RDAP.example/y")
    assert host_key("http://rdap.example:80/x") == "rdap.example"
    assert host_key("https://rdap.example:8443/x") == "rdap.example:8443"
    assert host_key("https://bücher.example/x") == host_key("https://xn--bcher-kva.example/")
    assert host_key("http://127.0.0.1:99999/x") == "127.0.0.1:99999"  # refused later


def test_idn_hosts_are_keyed_as_httpx_names_them() -> None:
    """IDNA 2008, as httpx: "straße" is not "strasse" (another domain)."""
    import httpx

    from rdapctl.net.ratelimit import host_key

    for url in ("https://straße.example/domain/x", "https://bücher.example/x"):
        assert host_key(url) == host_key(str(httpx.URL(url)))
    assert host_key("https://straße.example/") != host_key("https://strasse.example/")
