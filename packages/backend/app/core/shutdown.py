"""Noticing that the process is asked to stop, before the server tells the app.

uvicorn handles SIGTERM/SIGINT itself: it stops accepting connections, waits up to its graceful
timeout for open ones to finish, and only then runs the lifespan shutdown. A reply stream (SSE)
would keep its connection open for the whole wait, so the app chains onto the signal handler
and sets an event the moment the signal arrives; open streams then end with a ``reconnect`` event
and their clients resume on another process, while replies being generated keep going.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def notice_shutdown(event: asyncio.Event) -> Callable[[], None]:
    """Set ``event`` when SIGTERM or SIGINT arrives, then let the previous handler (the server's)
    act as before. Returns the function that puts the previous handlers back. Signal handlers
    can only be set from the main thread; elsewhere (an embedded server) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(event.set)
        before = previous[signal.Signals(signum)]
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:  # nobody handled it: the default action (terminate)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for sig in SIGNALS:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)

    return restore
