"""Progress of a run: a live bar on a terminal, plain lines elsewhere, nothing when quiet.

Shots are the unit people count, so the bar counts shots done (their `select`
node finished) and shows the node being worked on, the elapsed time and an
estimate of what is left.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .diagnostics import visible_lines
from .plan_nodes import Node, Select


class Progress:
    def __init__(self, shots: int, mode: str = "auto", stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode
        self.shots = shots
        self.shots_done = 0
        self.ran = 0
        self.reused = 0
        self.started = time.monotonic()
        self._bar = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=shots, unit="shot", file=self.stream, dynamic_ncols=True)

    def start(self, node: Node) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"{node.op} {node.id}", refresh=True)

    def done(self, node: Node, seconds: float, reused: bool) -> None:
        if reused:
            self.reused += 1
        else:
            self.ran += 1
        if isinstance(node, Select):
            self.shots_done += 1
            if self._bar is not None:
                self._bar.update(1)
        if self.mode == "lines" and not reused:
            self._line(f"{node.op:<11} {node.id}  {seconds:.2f}s")

    def note(self, message: str) -> None:
        """A line about the run as a whole (where it runs), unless quiet."""
        self._line(message)

    def warn(self, node: Node, message: str) -> None:
        """Something went wrong and was put right (a retry, a remade entry): always said."""
        self._line(f"warning: {node.op} {node.id}: {message}", always=True)

    def failed(self, node: Node, message: str) -> None:
        self._line(f"FAILED {node.op} {node.id}: {message}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elapsed = time.monotonic() - self.started
        self._line(
            f"done in {elapsed:.1f}s: ran {self.ran} nodes, reused {self.reused} from the cache"
        )

    def _line(self, text: str, always: bool = False) -> None:
        if self.mode == "quiet" and not always:
            return
        prefix = f"[{self.shots_done:>{len(str(self.shots))}}/{self.shots} shots] "
        text = visible_lines(text)  # messages quote paths and errors: no raw escapes
        if self._bar is not None:
            self._bar.write(prefix + text, file=self.stream)
        else:
            print(prefix + text, file=self.stream, flush=True)
