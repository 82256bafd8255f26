#!/usr/bin/env python3
"""tests/imgedit.py PROTO FILE EDIT [ARGS...]: changes what an image file
says the way EDIT names, as if the job had been frozen elsewhere, and
gives the file a valid header again (tests/fuzz/spoil.py's rewrite):

  rename-symbol OLD NEW   proc-PID.img: the job's vDSO function OLD is NEW
  vdso-text-byte OFF      proc-PID.img: one byte of the job's vDSO bytes
                          changed (another kernel's vDSO, for the thaw)
  cpuid-or LEAF SUB REG MASK   inventory.img: the freezing CPU had the
                          flags MASK in register REG (eax..edx) of LEAF.SUB
  cpuid-and LEAF SUB REG MASK  inventory.img: ...had only those of MASK
  xstate-bv-or MASK       proc-PID.img: every thread's saved registers
                          hold the XSAVE components MASK (XSTATE_BV)
  xcr0-lacks BIT...       inventory.img: prints the first XSAVE component
                          of the list the freezing CPU did not enable
  xsave-move FEATURE      an image directory: the freezing CPU kept XSAVE
                          component FEATURE after the end of the state it
                          saved, not where this CPU keeps it
  rlimit-renumber OLD NEW proc-PID.img: resource limit OLD is number NEW
  path-replace OLD NEW    proc-PID.img: every file at path OLD is at NEW
  rseq-len N              proc-PID.img: the threads' rseq areas are N bytes
  unchunk                 proc-PID.img: its page data as images from before
                          chunks said it (only for one stored raw and whole)
  zstd-chunk              proc-PID.img: prints the offset and length in
                          pages-PID.img of its biggest compressed chunk
  format-version N        any image file: its header says format version N
                          (the message itself unchanged)
"""
import codecs
import os
import re
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fuzz'))
from spoil import rewrite  # noqa: E402


def unescape(s):
    return codecs.escape_decode(s.encode())[0]


def escape(b):
    return ''.join('\\%03o' % c for c in b)


def edit_bytes(text, field, fn):
    """Applies FN to every bytes FIELD (at any depth) of TEXT."""
    def one(m):
        return '%s%s: "%s"' % (m.group(1), field, escape(fn(bytearray(unescape(m.group(2))))))
    return re.sub(r'^( *)%s: "((?:[^"\\]|\\.)*)"' % field, one, text, flags=re.M)


def rename_symbol(text, old, new):
    n = text.count('name: "%s"\n' % old)
    if not n:
        sys.exit('no vDSO symbol %s' % old)
    return text.replace('name: "%s"\n' % old, 'name: "%s"\n' % new)


def text_byte(text, off):
    def flip(b):
        b[off] ^= 0xff
        return b
    return edit_bytes(text, 'vdso_text', flip)


def cpuid_or(text, leaf, sub, reg, mask, keep=0xffffffff):
    blocks = list(re.finditer(r'^cpuid \{\n(.*?)^\}\n', text, re.M | re.S))
    for m in blocks:
        body = m.group(1)
        if re.search(r'^  leaf: %d$' % leaf, body, re.M) and \
           re.search(r'^  subleaf: %d$' % sub, body, re.M):
            old = int(re.search(r'^  %s: (\d+)$' % reg, body, re.M).group(1))
            body = re.sub(r'^  %s: \d+$' % reg, '  %s: %d' % (reg, (old & keep) | mask),
                          body, flags=re.M)
            return text[:m.start(1)] + body + text[m.end(1):]
    sys.exit('no CPUID leaf %#x.%d recorded' % (leaf, sub))


def cpuid_and(text, leaf, sub, reg, mask):
    return cpuid_or(text, leaf, sub, reg, 0, mask)


def set_field(text, field, value, old=None):
    pat = r'^( *)%s: %s$' % (field, old if old is not None else r'\d+')
    text, n = re.subn(pat, r'\g<1>%s: %s' % (field, value), text, flags=re.M)
    if not n:
        sys.exit('no %s %s to change' % (field, old or ''))
    return text


def xsave_move(d, feature):
    """Component FEATURE's bytes go after each thread's state."""
    found = {}

    def area(text):
        m = re.search(r'^xsave_areas \{\n  feature: %d\n  offset: (\d+)\n  size: (\d+)\n'
                      % feature, text, re.M)
        if not m:
            sys.exit('the freezing CPU had no XSAVE component %d' % feature)
        found['off'], found['size'] = int(m.group(1)), int(m.group(2))
        return text

    inv = os.path.join(d, 'inventory.img')
    rewrite(PROTO, inv, 'Inventory', area)
    off, size = found['off'], found['size']

    def move(b):
        found['len'] = len(b)
        tail = bytes(b[off:off + size])
        b[off:off + size] = bytes(size)
        return b + tail

    for f in sorted(os.listdir(d)):
        if f.startswith('proc-'):
            rewrite(PROTO, os.path.join(d, f), 'Process',
                    lambda t: edit_bytes(t, 'xstate', move))
    new = ('xsave_areas {\n  feature: %d\n  offset: %d\n' % (feature, found['len']))
    rewrite(PROTO, inv, 'Inventory', lambda t: t.replace(
        'xsave_areas {\n  feature: %d\n  offset: %d\n' % (feature, off), new))


def xcr0_lacks(path, bits):
    def show(text):
        xcr0 = int(re.search(r'^xcr0: (\d+)$', text, re.M).group(1))
        for b in bits:
            if not xcr0 >> b & 1:
                print(b)
                break
        return text
    rewrite(PROTO, path, 'Inventory', show)


def xstate_bv_or(text, mask):
    def add(b):
        bv = int.from_bytes(b[512:520], 'little') | mask
        b[512:520] = bv.to_bytes(8, 'little')
        return b
    return edit_bytes(text, 'xstate', add)


def unchunk(text):
    if re.search(r'^  (file|zstd): ', text, re.M) or 'page_files:' in text:
        sys.exit('chunks compressed or in other files: not an image from before')
    text = re.sub(r'^page_chunks \{\n(?:  .*\n)*?\}\n', '', text, flags=re.M)
    return re.sub(r'^(pages_chunked|pages_tag): .*\n', '', text, flags=re.M)


def zstd_chunk(text):
    best = None
    for m in re.finditer(r'^page_chunks \{\n((?:  .*\n)*?)\}\n', text, re.M):
        body = m.group(1)
        if 'zstd: true' not in body or re.search(r'^  file: [1-9]', body, re.M):
            continue
        off = int(re.search(r'^  offset: (\d+)$', body, re.M).group(1))
        n = int(re.search(r'^  stored_len: (\d+)$', body, re.M).group(1))
        if not best or n > best[1]:
            best = (off, n)
    if not best:
        sys.exit('no compressed chunk')
    print('%d %d' % best)
    return text


def format_version(path, n):
    with open(path, 'r+b') as f:
        if f.read(8) != b'JOBFREEZ':
            sys.exit(path + ': not an image file')
        f.write(struct.pack('<I', n))


def main():
    global PROTO
    proto, path, how = sys.argv[1:4]
    PROTO = proto
    a = sys.argv[4:]
    if how == 'rename-symbol':
        rewrite(proto, path, 'Process', lambda t: rename_symbol(t, a[0], a[1]))
    elif how == 'vdso-text-byte':
        rewrite(proto, path, 'Process', lambda t: text_byte(t, int(a[0], 0)))
    elif how == 'cpuid-or':
        rewrite(proto, path, 'Inventory',
                lambda t: cpuid_or(t, int(a[0], 0), int(a[1], 0), a[2], int(a[3], 0)))
    elif how == 'cpuid-and':
        rewrite(proto, path, 'Inventory',
                lambda t: cpuid_and(t, int(a[0], 0), int(a[1], 0), a[2], int(a[3], 0)))
    elif how == 'xcr0-lacks':
        xcr0_lacks(path, [int(b) for b in a])
    elif how == 'xsave-move':
        xsave_move(path, int(a[0]))
    elif how == 'rlimit-renumber':
        rewrite(proto, path, 'Process',
                lambda t: set_field(t, 'resource', a[1], a[0]))
    elif how == 'path-replace':
        rewrite(proto, path, 'Process',
                lambda t: t.replace('"%s"' % a[0], '"%s"' % a[1]))
    elif how == 'rseq-len':
        rewrite(proto, path, 'Process', lambda t: set_field(t, 'rseq_len', a[0]))
    elif how == 'xstate-bv-or':
        rewrite(proto, path, 'Process', lambda t: xstate_bv_or(t, int(a[0], 0)))
    elif how == 'unchunk':
        rewrite(proto, path, 'Process', unchunk)
    elif how == 'zstd-chunk':
        rewrite(proto, path, 'Process', zstd_chunk)
    elif how == 'format-version':
        format_version(path, int(a[0]))
    else:
        sys.exit('unknown edit ' + how)


main()
