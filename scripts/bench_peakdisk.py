#!/usr/bin/env python3
"""Run a command and report the peak extra disk space it used on one filesystem (stdlib only).

    bench_peakdisk.py OUT PATH -- CMD [ARGS...]

Samples statvfs(PATH) every 5 ms while CMD runs and writes to OUT (appending) one line: the peak of
(used - used before CMD started), in bytes, and CMD's wall time in seconds. Exits with CMD's status.
Anything else writing to that filesystem at the same time counts too: run it on a quiet machine.
"""
import os
import subprocess
import sys
import threading
import time


def used(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def main():
    out, path, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    os.sync()
    base = used(path)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], used(path) - base)
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    began = time.monotonic()
    t.start()
    rc = subprocess.call(cmd)
    done.set()
    t.join()
    wall = time.monotonic() - began
    with open(out, "a") as f:
        f.write(f"{peak[0]} {wall:.3f}\n")
    sys.exit(rc)


if __name__ == "__main__":
    main()
