"""Response bodies decoded as they arrive, never more than the size cap in memory.

httpx's own decoders inflate each network chunk whole: a 1.5 KB brotli
response grew the process to about 2 GB before the cap could be checked.  Here
every decompressor is asked for at most :data:`PIECE` bytes at a time
(``zlib``'s ``max_length`` with its ``unconsumed_tail``, brotli's
``output_buffer_limit`` with ``can_accept_more_data``), and
:func:`read_body` counts the pieces against the cap as they are produced, so a
bomb is stopped a piece past the cap whatever its ratio.

Decoding follows what browsers accept: ``gzip`` (and ``x-gzip``) with several
members and trailing bytes ignored, ``deflate`` both zlib-wrapped (as RFC 9110
says) and raw (as many servers send it), ``br``, ``identity``, and several
codings stacked (``Content-Encoding: gzip, br`` is undone right to left).  A
stream cut short keeps what was decoded, as httpx did; the transport already
refuses a body shorter than its ``Content-Length`` or chunked framing.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Protocol

import brotli

PIECE = 64 * 1024  # the most a decompressor is asked for at once
MAX_CODINGS = 4  # more stacked codings than this is no real server
_GZIP_MAGIC = b"\x1f\x8b"
_ALIASES = {"x-gzip": "gzip"}
_SUPPORTED = ("gzip", "deflate", "br")


class DecodeError(Exception):
    """A body that cannot be decoded; the message is the reason a user reads."""


class BodyTooLarge(Exception):
    """The body, as received or as decoded, passed the cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"response exceeds the {limit}-byte cap (fetch.max_bytes)")


def content_codings(header: str | None) -> list[str]:
    """The codings of a ``Content-Encoding`` header in the order they were applied.

    ``identity`` is dropped; an unknown coding raises :class:`DecodeError`.
    """
    codings = []
    for item in (header or "").split(","):
        coding = _ALIASES.get(item.strip().lower(), item.strip().lower())
        if coding in ("", "identity"):
            continue
        if coding not in _SUPPORTED:
            raise DecodeError(
                f"unsupported Content-Encoding {item.strip()!r} (monitor asks for and "
                "decodes gzip, deflate and br only)"
            )
        codings.append(coding)
    if len(codings) > MAX_CODINGS:
        raise DecodeError(f"Content-Encoding {header!r} stacks more than {MAX_CODINGS} codings")
    return codings


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


def _is_zlib_header(head: bytes) -> bool:
    """RFC 1950: deflate method, window up to 32 KiB, header check bits; as browsers sniff."""
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


class _Inflate:
    """gzip or deflate through ``zlib``, ``max_length`` bytes at a time."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._inflater: zlib._Decompress | None = None
        self._head = b""  # bytes held until the next stream's header can be judged
        self._members = 0
        self._done = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data and not self._done:
            if self._inflater is None:
                self._head += data
                if len(self._head) < 2:
                    return
                data, self._head = self._head, b""
                if not self._start(data[:2]):
                    self._done = True  # bytes after the last gzip member: ignored
                    return
            data = yield from self._inflate(data)

    def finish(self) -> Iterator[bytes]:
        """Output zlib still holds (none, as :meth:`_inflate` drains it; kept for symmetry)."""
        if self._inflater is not None and not self._done:
            yield from self._inflate(b"")

    def _start(self, head: bytes) -> bool:
        if self._coding == "deflate":
            wbits = zlib.MAX_WBITS if _is_zlib_header(head) else -zlib.MAX_WBITS
        elif self._members == 0 or head == _GZIP_MAGIC:
            wbits = zlib.MAX_WBITS | 16
        else:
            return False
        self._inflater = zlib.decompressobj(wbits)
        self._members += 1
        return True

    def _inflate(self, data: bytes) -> Generator[bytes, None, bytes]:
        """Inflate ``data``; what is left after the stream's end is returned."""
        inflater = self._inflater
        assert inflater is not None
        while True:
            try:
                out = inflater.decompress(data, PIECE)
            except zlib.error as exc:
                raise DecodeError(f"the body is not valid {self._coding} data ({exc})") from None
            data = inflater.unconsumed_tail
            if out:
                yield out
            if inflater.eof:
                self._inflater = None
                if self._coding == "deflate":
                    self._done = True
                return inflater.unused_data + data
            if not data and len(out) < PIECE:
                return b""  # all input taken and no output pending: wait for more


class _Brotli:
    """brotli through ``Decompressor.process`` with an output limit."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        try:
            out = decompressor.process(data, output_buffer_limit=PIECE)
            if out:
                yield out
            while not decompressor.can_accept_more_data():
                out = decompressor.process(b"", output_buffer_limit=PIECE)
                if not out:
                    raise DecodeError("the brotli decoder stopped making progress")
                yield out
        except brotli.error as exc:
            raise DecodeError(f"the body is not valid br (brotli) data ({exc})") from None

    def finish(self) -> Iterator[bytes]:
        """The output still held: the decoder takes input again before it has given it all."""
        decompressor = self._decompressor
        try:
            while not decompressor.is_finished():
                out = decompressor.process(b"", output_buffer_limit=PIECE)
                if not out:
                    return  # a stream cut short: what was decoded is kept
                yield out
        except brotli.error as exc:
            raise DecodeError(f"the body is not valid br (brotli) data ({exc})") from None


def _stage(coding: str) -> _Stage:
    return _Brotli() if coding == "br" else _Inflate(coding)


class BodyDecoder:
    """Undoes a ``Content-Encoding``, one raw chunk at a time, in bounded pieces."""

    def __init__(self, content_encoding: str | None) -> None:
        self._stages = [_stage(c) for c in reversed(content_codings(content_encoding))]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of one raw chunk, each about :data:`PIECE` bytes at most."""
        return self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """What the decompressors still hold once the raw stream has ended."""
        for index, stage in enumerate(self._stages):
            for piece in stage.finish():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            if data:
                yield data
            return
        for piece in self._stages[index].feed(data):
            yield from self._through(index + 1, piece)


async def read_body(raw: AsyncIterator[bytes], content_encoding: str | None, limit: int) -> bytes:
    """The decoded body of a raw (still encoded) byte stream, at most ``limit`` bytes.

    Raises :class:`BodyTooLarge` as soon as the bytes received or the bytes decoded
    pass ``limit``, and :class:`DecodeError` for an unsupported coding or corrupt data.
    """
    decoder = BodyDecoder(content_encoding)
    body = bytearray()
    received = 0
    async for chunk in raw:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(limit)
        for piece in decoder.feed(chunk):
            if len(body) + len(piece) > limit:
                raise BodyTooLarge(limit)
            body += piece
    for piece in decoder.finish():
        if len(body) + len(piece) > limit:
            raise BodyTooLarge(limit)
        body += piece
    return bytes(body)
