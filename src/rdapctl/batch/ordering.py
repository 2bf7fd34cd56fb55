"""The output side of a batch run: result lines in input order through a reorder
window (or in completion order with ``--unordered``), kept as pieces that a flush
joins once. A line's envelope gets ``"line"`` put first without re-encoding it."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rdapctl.batch.runner import BatchSummary


class OrderedOutput:
    """Lines answered, waiting for earlier ones (ordered runs) or for the next flush."""

    def __init__(self, summary: BatchSummary, unordered: bool) -> None:
        """``summary.done`` counts the lines added here (see :meth:`drop`)."""
        self._summary = summary
        self._unordered = unordered
        self._order: deque[int] = deque()  # lines dispatched, not yet written (input order)
        self._ready: dict[int, bytes | None] = {}  # answered, waiting for earlier lines
        self._pieces: list[bytes | memoryview] = []  # output pieces (see _add_line)
        self.lines = 0  # whole lines among the pieces

    @property
    def waiting(self) -> int:
        """Lines dispatched and not yet written (ordered runs)."""
        return len(self._order)

    def expect(self, line: int) -> None:
        """``line`` was dispatched: in an ordered run, later lines wait for it."""
        if not self._unordered:
            self._order.append(line)

    def emit(self, line: int, body: bytes | None) -> None:
        """The answer of ``line`` (None: not answered, its place is skipped)."""
        if self._unordered:
            if body is not None:
                self._add_line(line, body)
            return
        self._ready[line] = body
        order, ready = self._order, self._ready
        while order and order[0] in ready:
            number = order.popleft()
            answered = ready.pop(number)
            if answered is not None:
                self._add_line(number, answered)

    def _add_line(self, line: int, body: bytes) -> None:
        # The envelope with "line" put first, as pieces the flush joins once: slicing
        # and concatenating the ~KBs body here cost more than the rest of a warm line.
        self._pieces += (b'{"line":%d,' % line, memoryview(body)[1:], b"\n")
        self.lines += 1
        self._summary.done += 1

    def finish(self) -> None:
        """Lines behind a gap (interrupted or cancelled): added in line order so that
        everything answered is kept; --resume fills the gaps."""
        if not self._unordered:
            for line in sorted(self._ready):
                body = self._ready.pop(line)
                if body is not None:
                    self._add_line(line, body)
            self._order.clear()

    def take(self) -> bytes:
        """The lines added since the last take, joined."""
        data, self._pieces, self.lines = b"".join(self._pieces), [], 0
        return data

    def drop(self) -> None:
        """Forget the lines added since the last take (and uncount them)."""
        self._summary.done -= self.lines
        self._pieces, self.lines = [], 0
