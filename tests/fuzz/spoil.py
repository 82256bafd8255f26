#!/usr/bin/env python3
"""tests/fuzz/spoil.py PROTO FILE HOW: rewrites the Process message of the
image file FILE (a proc-PID.img) the way HOW names, then gives it a valid
header again (length, CRC32C), so that only the checks after unpacking can
catch it. Uses protoc's text format; the file keeps its inode and owner."""
import re
import struct
import subprocess
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def nth_field(text, block, field, n=0):
    """(start, end) of the value of FIELD in the Nth top-level BLOCK { }."""
    starts = [m.end() for m in re.finditer(r'^%s \{\n' % block, text, re.M)]
    at = starts[n]
    m = re.compile(r'^  %s: (-?\d+)$' % field, re.M).search(text, at)
    return m.start(1), m.end(1)


def setf(text, block, field, value, n=0):
    a, b = nth_field(text, block, field, n)
    return text[:a] + str(value) + text[b:]


def getf(text, block, field, n=0):
    a, b = nth_field(text, block, field, n)
    return int(text[a:b])


def spoil(text, how):
    if how == 'overlap':        # the second area starts inside the first
        return setf(text, 'vmas', 'start', getf(text, 'vmas', 'start', 0), 1)
    if how == 'unaligned':
        return setf(text, 'vmas', 'start', getf(text, 'vmas', 'start', 0) + 1, 0)
    if how == 'kernel':         # the last area reaches into kernel space
        n = len(re.findall(r'^vmas \{', text, re.M)) - 1
        while 'kind: VSYSCALL' in text.split('\nvmas {\n')[n + 1].split('\n}')[0]:
            n -= 1
        return setf(text, 'vmas', 'end', 0xffff800000001000, n)
    if how == 'page_outside':   # a page run where no area is
        return setf(text, 'pages', 'vaddr', 0x1000, 0)
    if how == 'page_huge':      # a page run of 2^40 pages
        return setf(text, 'pages', 'nr_pages', 1 << 40, 0)
    if how == 'fd_huge':
        return setf(text, 'fds', 'fd', 2147483647, 0)
    sys.exit('unknown spoil ' + how)


def rewrite(proto, path, message, edit):
    """Rewrites the MESSAGE of image file PATH through EDIT (text format in,
    text format out) and gives it a valid header again."""
    data = open(path, 'rb').read()
    head, payload = data[:24], data[24:]
    run = dict(capture_output=True, check=True,
               cwd=proto.rsplit('/', 1)[0] or '.')
    name = proto.rsplit('/', 1)[-1]
    text = subprocess.run(['protoc', '--decode=' + message, name], input=payload,
                          **run).stdout.decode()
    text = edit(text)
    payload = subprocess.run(['protoc', '--encode=' + message, name],
                             input=text.encode(), **run).stdout
    head = head[:16] + struct.pack('<II', len(payload), crc32c(payload))
    with open(path, 'r+b') as f:
        f.write(head + payload)
        f.truncate()


def main():
    proto, path, how = sys.argv[1:4]
    rewrite(proto, path, 'Process', lambda text: spoil(text, how))


if __name__ == '__main__':
    main()
