"""The in-flight slots of a batch run's HostGate: never more holders than slots."""

from __future__ import annotations

import threading
import time

from rdapctl.net.ratelimit import Slots


def test_slots_admit_at_most_n_and_time_out_when_full() -> None:
    """n acquisitions succeed, the next waits out its timeout; a release admits one."""
    slots = Slots(2)
    assert slots.acquire(timeout=0.01) and slots.acquire(timeout=0.01)
    started = time.monotonic()
    assert not slots.acquire(timeout=0.05)
    assert time.monotonic() - started >= 0.04
    slots.release()
    assert slots.acquire(timeout=0.01)


def test_threads_sharing_slots_never_exceed_them() -> None:
    """Eight threads taking three slots in turn: at most three hold one at any time."""
    slots = Slots(3)
    lock = threading.Lock()
    holding = 0
    most = 0

    def work() -> None:
        nonlocal holding, most
        for _ in range(200):
            assert slots.acquire(timeout=5)
            with lock:
                holding += 1
                most = max(most, holding)
            time.sleep(0)
            with lock:
                holding -= 1
            slots.release()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= most <= 3
    assert holding == 0
