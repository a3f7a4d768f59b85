"""A monotonic clock the test moves by hand, for code that takes a ``clock`` callable."""

from __future__ import annotations


class ManualClock:
    """``clock()`` returns the current reading; ``advance(seconds)`` moves it forward."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock does not go back"
        self.now += seconds
