"""``orderflow up`` stops cleanly however the interrupt arrives.

``uv run`` without a terminal forwards SIGINT to the command and, about 200 ms later, a second
one; that second interrupt used to abort the cleanup ("Aborted!", exit 1) and leave the stop
half done. (A third interrupt kills everything at once: ``tests/local/test_stop_signals.py``.)
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import start_up, wait_for
from .test_alarm_and_up import alive, descendants, publish_orders

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc"),
]
UV_SECOND_INTERRUPT_SECONDS = 0.2
"""How long after the first SIGINT ``uv run`` forwards the second."""


class Up:
    """`orderflow up` in a subprocess, with every process it started once it is serving."""

    def __init__(self, state_dir: Path) -> None:
        self.local = state_dir / "local.json"
        self.process = start_up(state_dir)
        self.started: set[int] = set()

    def serving(self) -> None:
        import json  # noqa: PLC0415

        wait_for(self.local.is_file, 120, "local.json")
        publish_orders(json.loads(self.local.read_text()), 3)
        every_process = 1 + 4 * 3  # the embedded AWS; per function a worker, a fork server
        # and an environment
        self.started = wait_for(
            lambda: (
                descendants(self.process.pid)
                if len(descendants(self.process.pid)) >= every_process
                else None
            ),
            90,
            "every function's environment",
        )

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def left_behind(self) -> list[int]:
        return [pid for pid in self.started if alive(pid)]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path / "state")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def test_two_interrupts_200_ms_apart_stop_cleanly(up: Up) -> None:
    # GIVEN `orderflow up` serving orders
    up.serving()
    # WHEN it is interrupted twice, 200 ms apart, as `uv run` does without a terminal
    up.interrupt()
    time.sleep(UV_SECOND_INTERRUPT_SECONDS)
    up.interrupt()
    output, _ = up.process.communicate(timeout=120)
    # THEN the cleanup ran to its end: exit 0, every process gone, local.json with them
    assert up.process.returncode == 0, output
    assert "Aborted" not in output
    assert "still stopping cleanly" in output  # the second one arrived while it stopped
    assert "stopped" in output
    assert up.left_behind() == []
    assert not up.local.exists()
