"""The monitor process freezes its start-up objects once (monitor/heap.py)."""

from __future__ import annotations

import subprocess
import sys


def test_start_up_objects_are_frozen_once_a_process() -> None:
    script = (
        "import gc\n"
        "from monitor.heap import freeze_start_up\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_start_up(collect=True)\n"
        "frozen = gc.get_freeze_count()\n"
        "assert frozen > 1000, frozen\n"
        "kept = [[] for _ in range(5000)]\n"
        "freeze_start_up(collect=False)\n"  # a second call does nothing
        "assert gc.get_freeze_count() == frozen, (gc.get_freeze_count(), frozen)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
