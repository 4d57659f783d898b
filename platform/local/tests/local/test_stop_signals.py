"""Ctrl-C however it arrives: a second interrupt never aborts the cleanup, a third forces.

``uv run`` without a terminal forwards SIGINT to the command, and a second one about 200 ms
later; a terminal's Ctrl-C reaches the whole foreground process group once per press. The
program below runs ``run_until_stopped`` as ``orderflow up`` does, with a cleanup that lasts
until the test lets it end, so every interrupt lands while the cleanup runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow.local.commands import INTERRUPTED_EXIT

PROGRAM = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orderflow.local.commands import StopSignals, run_until_stopped

    release, killed = Path(sys.argv[1]), Path(sys.argv[2])
    signals = StopSignals().install()

    def work():
        print("serving", flush=True)
        signals.stop.wait()

    def cleanup():
        print("cleaning up", flush=True)
        while not release.exists():
            time.sleep(0.01)
        print("stopped", flush=True)

    run_until_stopped(signals, work, cleanup, killed.touch)
    """
)


class Program:
    """The program running, read line by line."""

    def __init__(self, tmp_path: Path) -> None:
        self.release = tmp_path / "release"
        self.killed = tmp_path / "killed"
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROGRAM, str(self.release), str(self.killed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_line(self, expected: str) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == expected:
                return
        raise AssertionError(f"the program ended before printing {expected!r}")

    def wait_for_error_line(self, fragment: str) -> str:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if fragment in line:
                return line
        raise AssertionError(f"the program ended before saying {fragment!r}")

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)


@pytest.fixture
def program(tmp_path: Path) -> Iterator[Program]:
    running = Program(tmp_path)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def test_a_second_interrupt_during_the_cleanup_does_not_abort_it(program: Program) -> None:
    # GIVEN the program serving
    program.wait_for_line("serving")
    # WHEN it is interrupted, and interrupted again while it cleans up (as uv forwards it)
    program.interrupt()
    program.wait_for_line("cleaning up")
    program.interrupt()
    program.wait_for_error_line("still stopping cleanly")
    # THEN the cleanup runs to its end and the program exits 0, nothing killed
    program.release.touch()
    program.wait_for_line("stopped")
    assert program.process.wait(timeout=60) == 0
    assert not program.killed.exists()


def test_a_third_interrupt_forces_the_stop(program: Program) -> None:
    # GIVEN the program cleaning up after an interrupt, and a second interrupt acknowledged
    program.wait_for_line("serving")
    program.interrupt()
    program.wait_for_line("cleaning up")
    program.interrupt()
    program.wait_for_error_line("still stopping cleanly")
    # WHEN a third interrupt comes before the cleanup ends
    program.interrupt()
    # THEN everything is killed at once and the program exits as interrupted (130)
    program.wait_for_error_line("forced")
    assert program.process.wait(timeout=60) == INTERRUPTED_EXIT
    assert program.killed.exists()
