#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write fuzz/corpus/decoder/ seeds: fuzz_decoder programs that decode real
streams start to finish (open, formats, buffers, STREAMON, coded data,
CAPTURE set up after the source change, drain), so the fuzzer starts from
inputs that reach every state and mutates them.  The step encoding is
fuzz_decoder.c's; keep the two in step.

    ffmpeg -f lavfi -i testsrc2=size=64x64:rate=30 -frames:v 4 -c:v libx264 t.h264
    ffmpeg -f lavfi -i testsrc2=size=64x64:rate=30 -frames:v 4 -c:v libvpx t.ivf
    fuzz/decoder_seeds.py t.h264 t.ivf fuzz/corpus/decoder
"""
import struct
import sys

H264, VP8 = 0, 2                     # indices in fuzz_decoder.c's coded[]


def u8(v): return struct.pack('<B', v & 0xff)
def u16(v): return struct.pack('<H', v & 0xffff)
def u32(v): return struct.pack('<I', v & 0xffffffff)


def s_fmt_output(codec, w, h):       # op 2: session 0, OUTPUT, S_FMT
    return u8(2) + u8(0) + u8(0) + u8(codec) + u16(w) + u16(h) + u8(1) + u32(1 << 16) + u16(0)


def subscribe(which):                # op 12: 0 SOURCE_CHANGE, 1 EOS
    return u8(12) + u8(0) + u8(which)


def reqbufs(queue, count):           # op 4: MMAP
    return u8(4) + u8(0) + u8(queue) + u8(0) + u8(count)


def streamon(queue):                 # op 8
    return u8(8) + u8(0) + u8(queue) + u8(0)


def qbuf(op, index, data, ts):       # op 6 OUTPUT / 7 CAPTURE, MMAP
    return (u8(op) + u8(0) + u8(0) + u8(index) + u16(len(data)) + u8(0) + u16(ts) + data)


def pump():                          # op 15: four pumps of up to 1 ms
    return u8(15) + u8(0)


def stop():                          # op 9: DECODER_CMD STOP
    return u8(9) + u8(0) + u8(1)


def annexb_units(data, size=512):
    return [data[i:i + size] for i in range(0, len(data), size)]


def ivf_frames(data):
    out, pos = [], 32
    while pos + 12 <= len(data):
        n = struct.unpack_from('<I', data, pos)[0]
        out.append(data[pos + 12:pos + 12 + n])
        pos += 12 + n
    return out


def program(codec, units):
    p = u8(0) + s_fmt_output(codec, 64, 64) + subscribe(0) + subscribe(1)
    p += reqbufs(0, 4) + streamon(0)
    for i, unit in enumerate(units[:4]):
        p += qbuf(6, i, unit, i)
    p += pump() + pump()
    p += reqbufs(1, 4) + streamon(1)
    for i in range(4):
        p += qbuf(7, i, b'', 0)
    for i, unit in enumerate(units[4:]):
        p += pump() + qbuf(6, i % 4, unit, 4 + i)
    p += pump() + stop()
    for _ in range(3):
        p += pump() + b''.join(qbuf(7, i, b'', 0) for i in range(4))
    return p


def main():
    h264, ivf, out = sys.argv[1:4]
    with open(h264, 'rb') as f:
        seed = program(H264, annexb_units(f.read()))
    with open(out + '/h264_decode', 'wb') as f:
        f.write(seed)
    with open(ivf, 'rb') as f:
        seed = program(VP8, ivf_frames(f.read()))
    with open(out + '/vp8_decode', 'wb') as f:
        f.write(seed)


if __name__ == '__main__':
    main()
