"""A small CBOR (RFC 8949) codec: what Smithy's rpc-v2-cbor protocol puts on the wire.

Decodes definite and indefinite lengths, half/single/double floats and tags (tag 1, an epoch
timestamp, becomes an `EpochTime`); encodes dicts, lists, str, bytes, bool, None, int, float and
`EpochTime` (as tag 1 over a number, the way Smithy serializes timestamps).
"""

import math
import struct


class CBORError(ValueError):
    """The bytes are not well-formed CBOR."""


class EpochTime(float):
    """Seconds since the epoch, encoded as CBOR tag 1 (a Smithy timestamp)."""


_BREAK = object()


class _Decoder:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise CBORError("unexpected end of CBOR data")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def argument(self, info):
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return struct.unpack(">H", self.take(2))[0]
        if info == 26:
            return struct.unpack(">I", self.take(4))[0]
        if info == 27:
            return struct.unpack(">Q", self.take(8))[0]
        if info == 31:
            return None  # indefinite length
        raise CBORError(f"reserved additional information {info}")

    def item(self, allow_break=False):
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self.simple(info, allow_break)
        length = self.argument(info)
        if major == 0:
            return length
        if major == 1:
            return -1 - length
        if major in (2, 3):
            if length is None:
                chunks = []
                while True:
                    chunk = self.item(allow_break=True)
                    if chunk is _BREAK:
                        break
                    chunks.append(chunk)
                joined = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
                return joined if major == 2 else joined.decode("utf-8")
            raw = self.take(length)
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CBORError("text string is not UTF-8") from exc
        if major == 4:
            items = []
            while length is None or len(items) < length:
                value = self.item(allow_break=length is None)
                if value is _BREAK:
                    break
                items.append(value)
            return items
        if major == 5:
            result = {}
            count = 0
            while length is None or count < length:
                key = self.item(allow_break=length is None)
                if key is _BREAK:
                    break
                if not isinstance(key, (str, int, float, bool, bytes)):
                    raise CBORError("map key must be a scalar")
                result[key] = self.item()
                count += 1
            return result
        # major 6: a tag
        if length is None:
            raise CBORError("indefinite tag")
        value = self.item()
        if length == 1:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise CBORError("tag 1 (epoch time) must wrap a number")
            return EpochTime(value)
        return value

    def simple(self, info, allow_break):
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(struct.unpack(">H", self.take(2))[0])
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        if info == 31 and allow_break:
            return _BREAK
        if info < 24:
            return None
        if info == 24:
            self.take(1)
            return None
        raise CBORError(f"unexpected simple value {info}")


def _half(bits):
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent = (bits >> 10) & 0x1F
    fraction = bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0**-24
    if exponent == 31:
        return sign * math.inf if fraction == 0 else math.nan
    return sign * (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)


def loads(data):
    """One CBOR data item from `data` (bytes); CBORError if malformed or followed by garbage."""
    if not data:
        raise CBORError("empty CBOR body")
    decoder = _Decoder(bytes(data))
    value = decoder.item()
    if decoder.pos != len(decoder.data):
        raise CBORError("trailing bytes after the CBOR data item")
    return value


def _head(major, value):
    if value < 24:
        return bytes([(major << 5) | value])
    if value < 0x100:
        return bytes([(major << 5) | 24, value])
    if value < 0x10000:
        return bytes([(major << 5) | 25]) + struct.pack(">H", value)
    if value < 0x100000000:
        return bytes([(major << 5) | 26]) + struct.pack(">I", value)
    return bytes([(major << 5) | 27]) + struct.pack(">Q", value)


def _encode(value, out):
    if value is None:
        out.append(b"\xf6")
    elif value is True:
        out.append(b"\xf5")
    elif value is False:
        out.append(b"\xf4")
    elif isinstance(value, EpochTime):
        out.append(b"\xc1")
        _encode(int(value) if float(value).is_integer() else float(value), out)
    elif isinstance(value, int):
        out.append(_head(0, value) if value >= 0 else _head(1, -1 - value))
    elif isinstance(value, float):
        out.append(b"\xfb" + struct.pack(">d", value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out.append(_head(3, len(raw)) + raw)
    elif isinstance(value, (bytes, bytearray)):
        out.append(_head(2, len(value)) + bytes(value))
    elif isinstance(value, (list, tuple)):
        out.append(_head(4, len(value)))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out.append(_head(5, len(value)))
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def dumps(value):
    out = []
    _encode(value, out)
    return b"".join(out)
