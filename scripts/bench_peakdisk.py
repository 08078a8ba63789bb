#!/usr/bin/env python3
"""Run a command and report the peak extra disk space it used under one folder (stdlib only).

    bench_peakdisk.py OUT DIR -- CMD [ARGS...]

Every 5 ms while CMD runs, adds up the allocated size (st_blocks, which on ext4 includes blocks reserved for
data not yet written back) of every file under DIR, and writes to OUT (appending) one line: the peak of
(that sum - the sum before CMD started), in bytes, and CMD's wall time in seconds. CMD runs with TMPDIR set
to DIR/tmp, so its temporary files count too. Exits with CMD's status. Other processes writing under DIR
count as well: give the run a folder of its own.
"""
import os
import subprocess
import sys
import threading
import time


def allocated(root):
    total = 0
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            total += st.st_blocks * 512
    return total


def main():
    out, root, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    tmp = os.path.join(root, "tmp")
    os.makedirs(tmp, exist_ok=True)
    base = allocated(root)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], allocated(root) - base)
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    began = time.monotonic()
    t.start()
    rc = subprocess.call(cmd, env={**os.environ, "TMPDIR": tmp})
    done.set()
    t.join()
    peak[0] = max(peak[0], allocated(root) - base)
    wall = time.monotonic() - began
    with open(out, "a") as f:
        f.write(f"{peak[0]} {wall:.3f}\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
