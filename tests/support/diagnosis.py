"""What a test server process was doing when it would not stop: for the
harness's timeouts (``launchers.kill``), which otherwise say only that time ran out."""

from __future__ import annotations

import subprocess
import sys
import threading
import traceback
from pathlib import Path

from qscookies.embedded import RedisServer


def diagnosis(server: RedisServer, pid: int) -> str:
    """What a process that outlived ``SIGKILL`` was doing: its state, where
    it sleeps in the kernel, the machine's processes, who holds its
    ``waitpid`` lock (``Popen.poll()`` answers ``None`` meanwhile), its log."""
    found = []
    for name in ("status", "wchan", "stack"):
        try:
            found.append(
                f"/proc/{pid}/{name}: {Path(f'/proc/{pid}/{name}').read_text()}"
            )
        except OSError as error:
            found.append(f"/proc/{pid}/{name}: {error}")
    popen = server._res.popen
    locked = popen is not None and popen._waitpid_lock.locked()  # type: ignore[attr-defined]
    found.append(f"waitpid lock held by another thread: {locked}")
    ps = ["ps", "-eLo", "pid,ppid,lwp,psr,ni,stat,wchan:32,pcpu,cmd"]
    found.append(subprocess.run(ps, capture_output=True, text=True).stdout)
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or 0)
        if frame is not None:
            stack = "".join(traceback.format_stack(frame)[-4:])
            found.append(f"--- thread {thread.name}\n{stack}")
    return "\n".join([*found, f"--- {server.log_path}", server.log_tail(30)])
