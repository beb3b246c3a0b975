"""One training run per workdir: an advisory lock (flock) held for the whole run.

Two processes training into one workdir would interleave checkpoints of different
trajectories. The lock is released by the kernel when its process dies, even by SIGKILL, so
a killed run never blocks its own restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os


@contextlib.contextmanager
def workdir_lock(workdir):
  """Hold ``workdir/.lock`` for the duration; a held lock is refused in one line."""
  if "://" in workdir:          # object stores have no flock; one run per bucket path is the
    yield                       # launcher's job there
    return
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, ".lock")
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
      raise RuntimeError(f"workdir {workdir} is in use by another training run (pid {holder}); "
                         "wait for it or choose another --workdir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    yield
  finally:
    os.close(fd)
