#!/usr/bin/env python3
"""Time fdatasync after a 16 KiB write (about one group commit's WAL frames) in a folder, for a
couple of seconds, and print one line: flushes per second, p50, p99 and the slowest. The bench
records it next to its table because the durable rows depend on the disk more than on the code.
Usage: disk-probe.py FOLDER [SECONDS]"""
import os
import sys
import time

folder = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
path = os.path.join(folder, "disk-probe")
block = b"\x5a" * 16384
span = 32 << 20
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
try:
    # Written once and flushed first, so the timed writes overwrite existing blocks as the WAL does.
    os.pwrite(fd, b"\0" * span, 0)
    os.fsync(fd)
    times, offset, start = [], 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        os.pwrite(fd, block, offset)
        os.fdatasync(fd)
        times.append(time.perf_counter() - t)
        offset = (offset + len(block)) % span
    elapsed = time.perf_counter() - start
finally:
    os.close(fd)
    os.unlink(path)
times.sort()
pick = lambda q: times[min(len(times) - 1, int(len(times) * q))] * 1000
print(f"disk: 16 KiB write + fdatasync, {len(times) / elapsed:.0f}/s, p50 {pick(0.5):.3f} ms, "
      f"p99 {pick(0.99):.3f} ms, slowest {times[-1] * 1000:.1f} ms ({seconds:g} s alone)")
