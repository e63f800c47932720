"""The lzop container (``.lzo`` files written by the ``lzop`` tool), decoded in-process.

Layout (all integers big-endian): 9-byte magic, a header (versions, method, flags, mode, mtime,
original name, header checksum, optional filter and extra field), then blocks of
``dst_len, src_len, [dst checksum], [src checksum], payload`` ending with ``dst_len == 0``.
A payload is LZO1X data when ``src_len < dst_len`` and stored verbatim when they are equal.
Checksums (Adler-32 or CRC-32 of the decompressed and/or compressed bytes) are verified when the
header flags say they are present.

Blocks are indexed once (headers only), as far as the caller needs, so any byte range can be
decompressed on demand; LZO1X decoding is done by ``lzallright``.
"""
from __future__ import annotations

import bisect
import logging
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

from ..errors import ChecksumError, FormatError, TruncatedFileError
from .byteregion import ByteRegion

log = logging.getLogger(__name__)

MAGIC = b"\x89LZO\x00\r\n\x1a\n"
#: Largest block we accept. lzop writes 256 KiB blocks; the cap bounds the memory a hostile block
#: can claim (LZO1X output is at most ~255x its input, so <= ~1 GiB transiently for a crafted file).
MAX_BLOCK_SIZE = 4 * 1024 * 1024
#: Largest expansion (decompressed / compressed bytes) accepted once a stream declares more than
#: :data:`BOMB_MIN_SIZE`: ultrasound data compresses a few-fold at most (the Clarius samples: 1.06x
#: IQ, 1.16x envelope), LZO1X at most ~220-fold (zeros); a huge, far more compressed stream is a
#: decompression bomb whose frames or clocks would cost minutes to decode.
MAX_EXPANSION = 64
BOMB_MIN_SIZE = 256 << 20

F_ADLER32_D, F_ADLER32_C, F_H_EXTRA_FIELD = 0x1, 0x2, 0x40
F_CRC32_D, F_CRC32_C, F_H_FILTER, F_H_CRC32 = 0x100, 0x200, 0x800, 0x1000
LZO1X_METHODS = {1: "LZO1X-1", 2: "LZO1X-1(15)", 3: "LZO1X-999"}


class _Block(NamedTuple):
    dst_offset: int   # offset of the block's first decompressed byte
    dst_len: int
    src_offset: int   # payload offset within the region
    src_len: int
    dst_checksum: int | None
    src_checksum: int | None


class LzopHeader(NamedTuple):
    version: int
    method: int
    level: int
    flags: int
    mode: int
    mtime: int
    name: str
    data_offset: int  # where the first block starts


def is_lzop(region: ByteRegion) -> bool:
    return region.length >= len(MAGIC) and region.read(0, len(MAGIC)) == MAGIC


class _Cursor:
    """Big-endian reader over a header buffer that names the file on running short."""

    def __init__(self, data: bytes, label: str):
        self.data, self.pos, self.label = data, 0, label

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise TruncatedFileError(self.label, "lzop header is cut short")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]


def _checksum(flags_adler: bool, data: bytes | memoryview) -> int:
    return zlib.adler32(data) if flags_adler else zlib.crc32(data)


def parse_header(region: ByteRegion) -> LzopHeader:
    """Parse and verify the lzop file header."""
    label = region.label
    head = region.read(0, min(region.length, 1024))
    if not head.startswith(MAGIC):
        raise FormatError(label, "not an lzop file (bad magic)")
    cur = _Cursor(head, label)
    cur.take(len(MAGIC))
    version = cur.u16()
    cur.u16()  # library version
    if version >= 0x0940:
        needed = cur.u16()
        if needed > 0x1040:
            raise FormatError(label, f"lzop version {needed:#06x} needed to extract is not supported")
    method = cur.u8()
    level = cur.u8() if version >= 0x0940 else 0
    if method not in LZO1X_METHODS:
        raise FormatError(label, f"unsupported lzop method {method} (only LZO1X methods 1-3)")
    flags = cur.u32()
    if flags & F_H_FILTER:
        cur.u32()
    mode = cur.u32()
    mtime = cur.u32()
    if version >= 0x0940:
        mtime |= cur.u32() << 32
    name = cur.take(cur.u8()).decode("utf-8", errors="replace")
    covered = head[len(MAGIC):cur.pos]
    stored = cur.u32()
    if _checksum(not flags & F_H_CRC32, covered) != stored:
        raise ChecksumError(label, "lzop header checksum mismatch")
    if flags & F_H_EXTRA_FIELD:
        extra_len = cur.u32()
        if extra_len > len(head):
            raise FormatError(label, f"lzop extra field of {extra_len} bytes is implausible")
        cur.take(extra_len)
        cur.u32()
    return LzopHeader(version, method, level, flags, mode, mtime, name, cur.pos)


class LzopStream:
    """Random-access decompressed view of an lzop file: ``size`` bytes, ``read(start, size)``.

    ``max_size``: index the block headers only until this many decompressed bytes are covered
    (a reader knows from the data's own header how much it needs); a stream declaring more, e.g.
    gigabytes of zeros in a few megabytes (a decompression bomb), then costs no more than the
    data asked for. :meth:`extend` indexes further; :attr:`complete` says whether the
    end-of-stream marker was reached (``size`` is then the whole stream's).
    """

    def __init__(self, region: ByteRegion, cache_blocks: int = 4, *, max_size: int | None = None):
        self.region = region
        self.header = parse_header(region)
        self._blocks: list[_Block] = []
        self._starts: list[int] = []
        self._next = self.header.data_offset   # where the next block header starts
        self.complete = False
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_blocks = cache_blocks
        self.extend(max_size)

    @property
    def n_blocks(self) -> int:
        return len(self._blocks)

    @property
    def size(self) -> int:
        """Decompressed bytes of the blocks indexed so far (all of them once :attr:`complete`)."""
        return self._blocks[-1].dst_offset + self._blocks[-1].dst_len if self._blocks else 0

    def extend(self, max_size: int | None = None) -> None:
        """Index block headers until ``max_size`` decompressed bytes are covered or the stream
        ends (None: to the end)."""
        flags, label = self.header.flags, self.region.label
        has_dst_check = bool(flags & (F_ADLER32_D | F_CRC32_D))
        has_src_check = bool(flags & (F_ADLER32_C | F_CRC32_C))
        blocks, pos, dst_offset = self._blocks, self._next, self.size
        if self.complete or (max_size is not None and dst_offset >= max_size):
            return
        with open(self.region.path, "rb") as handle:
            def read_u32s(count: int) -> tuple[int, ...]:
                nonlocal pos
                if pos + 4 * count > self.region.length:
                    raise TruncatedFileError(label, f"lzop stream ends inside block {len(blocks)} "
                                                    "header (no end-of-stream marker)")
                handle.seek(self.region.offset + pos)
                raw = handle.read(4 * count)
                if len(raw) != 4 * count:
                    raise TruncatedFileError(label, "file shrank while being read")
                values = struct.unpack(f">{count}I", raw)
                pos += 4 * count
                return values

            while True:
                (dst_len,) = read_u32s(1)
                if dst_len == 0:
                    self.complete = True
                    break
                if max_size is not None and dst_offset >= max_size:
                    pos -= 4  # covered: this block is left for a later extend()
                    break
                (src_len,) = read_u32s(1)
                where = f"lzop block {len(blocks)} at byte {pos - 8}"
                if dst_len > MAX_BLOCK_SIZE:
                    raise FormatError(label, f"{where} claims {dst_len} bytes (> {MAX_BLOCK_SIZE})")
                if src_len == 0 or src_len > dst_len:
                    raise FormatError(label, f"{where} is corrupt ({src_len} bytes -> {dst_len})")
                dst_check = read_u32s(1)[0] if has_dst_check else None
                src_check = read_u32s(1)[0] if has_src_check and src_len < dst_len else None
                if pos + src_len > self.region.length:
                    raise TruncatedFileError(label, f"{where} is cut short")
                blocks.append(_Block(dst_offset, dst_len, pos, src_len, dst_check, src_check))
                self._starts.append(dst_offset)
                pos += src_len
                dst_offset += dst_len
        self._next = pos
        self._check_expansion()
        if self.complete and pos != self.region.length:
            log.warning("%s: %d bytes after the lzop end-of-stream marker ignored",
                        label, self.region.length - pos)

    def _check_expansion(self) -> None:
        """FormatError when the indexed blocks declare more than :data:`BOMB_MIN_SIZE` bytes at
        more than :data:`MAX_EXPANSION` times their compressed size."""
        compressed = max(1, self._next - self.header.data_offset)
        if self.size > BOMB_MIN_SIZE and self.size > MAX_EXPANSION * compressed:
            raise FormatError(self.region.label, f"lzop data of {compressed} bytes declares {self.size} "
                                                 f"decompressed ({self.size // compressed}-fold; ultrasound data "
                                                 "compresses a few-fold): refused as a decompression bomb")

    def _decode(self, index: int, payload: bytes | memoryview) -> bytes:
        from lzallright import LZOCompressor, LZOError

        block, flags = self._blocks[index], self.header.flags
        where = f"lzop block {index} (decompressed bytes {block.dst_offset}..)"
        if block.src_checksum is not None and \
                _checksum(bool(flags & F_ADLER32_C), payload) != block.src_checksum:
            raise ChecksumError(self.region.label, f"{where}: compressed-data checksum mismatch")
        if block.src_len == block.dst_len:
            data = bytes(payload)
        else:
            try:
                data = LZOCompressor.decompress(payload, output_size_hint=block.dst_len)
            except LZOError as exc:  # InputNotConsumed derives from it
                reason = getattr(exc.args[0], "name", exc.args[0]) if exc.args else "error"
                raise FormatError(self.region.label, f"{where}: corrupt LZO1X data ({reason})") from None
        if len(data) != block.dst_len:
            raise FormatError(self.region.label,
                              f"{where}: decompressed to {len(data)} bytes, header says {block.dst_len}")
        if block.dst_checksum is not None and \
                _checksum(bool(flags & F_ADLER32_D), data) != block.dst_checksum:
            raise ChecksumError(self.region.label, f"{where}: checksum mismatch")
        return data

    def _block(self, index: int) -> bytes:
        data = self._cache.get(index)
        if data is None:
            block = self._blocks[index]
            data = self._decode(index, self.region.read(block.src_offset, block.src_len))
            self._cache[index] = data
            if len(self._cache) > self._cache_blocks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return data

    def read(self, start: int, size: int) -> bytearray:
        """Decompressed bytes ``start:start + size`` (a new, writable buffer)."""
        if start < 0 or size < 0 or start + size > self.size:
            raise TruncatedFileError(self.region.label, f"needs decompressed bytes {start}.."
                                                        f"{start + size} but holds {self.size}")
        out = bytearray(size)
        first = bisect.bisect_right(self._starts, start) - 1
        for index in range(max(first, 0), len(self._blocks)):
            block = self._blocks[index]
            if block.dst_offset >= start + size:
                break
            lo = max(start, block.dst_offset)
            hi = min(start + size, block.dst_offset + block.dst_len)
            if size >= 4 * block.dst_len:  # large reads: stream, don't pollute the cache
                payload = self.region.read(block.src_offset, block.src_len)
                data = self._decode(index, payload)
            else:
                data = self._block(index)
            out[lo - start:hi - start] = memoryview(data)[lo - block.dst_offset:hi - block.dst_offset]
        return out

    def iter_decompressed(self) -> Iterator[bytes]:
        """Every indexed block's decompressed bytes in order (checksums verified), reading
        sequentially (the whole stream once :attr:`complete`)."""
        with open(self.region.path, "rb") as handle:
            for index, block in enumerate(self._blocks):
                handle.seek(self.region.offset + block.src_offset)
                payload = handle.read(block.src_len)
                if len(payload) != block.src_len:
                    raise TruncatedFileError(self.region.label, f"lzop block {index} is cut short")
                yield self._decode(index, payload)
