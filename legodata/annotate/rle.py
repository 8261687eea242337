"""Label Studio brush masks: its RLE (thi-ng ``rle-pack`` over RGBA bytes), encoded and decoded exactly.

The same format as ``label_studio_sdk.converter.brush`` (``encode_rle``/``decode_rle``; the tests check both ways,
bit for bit) without building a string per bit: a pull decodes thousands of masks. A pixel is painted when its alpha
byte is at least 128.

Stream: 32 bits value count, 5 bits word size - 1, four 4-bit run-length field sizes - 1; then per run a flag bit
(1: one word repeated, 0: literal words), 2 bits picking a field size, that many bits for length - 1, and the
word(s).
"""

from __future__ import annotations

import numpy as np

_RLE_SIZES = (3, 4, 8, 16)


def decode(rle: list[int] | bytes, expected: int | None = None) -> np.ndarray:
    """The flat uint8 values of an RLE (``width * height * 4`` RGBA bytes for a brush mask). ``ValueError`` when
    the stream is truncated or its value count differs from ``expected``."""
    data = bytes(bytearray(rle)) if not isinstance(rle, bytes | bytearray) else bytes(rle)
    total = len(data) * 8
    big = int.from_bytes(data, "big")
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > total:
            raise ValueError("brush RLE ends early")
        value = (big >> (total - pos - n)) & ((1 << n) - 1)
        pos += n
        return value

    num = read(32)
    if expected is not None and num != expected:
        raise ValueError(f"brush RLE holds {num} values, the image needs {expected}")
    word = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, np.uint8 if word <= 8 else np.uint16 if word <= 16 else np.uint32)
    i = 0
    while i < num:
        run = read(1)
        j = i + 1 + read(sizes[read(2)])
        if j > num:
            raise ValueError("brush RLE writes past the end of the image")
        if run:
            out[i:j] = read(word)
        else:
            for k in range(i, j):
                out[k] = read(word)
        i = j
    return out


def decode_mask(rle, width: int, height: int) -> np.ndarray:
    """Boolean ``(height, width)`` mask of a brush result (alpha >= 128)."""
    values = decode(rle, expected=width * height * 4)
    return values.reshape(height, width, 4)[:, :, 3] >= 128


def encode(values: np.ndarray) -> list[int]:
    """RLE of flat uint8 ``values``, the same bytes as ``label_studio_sdk.converter.brush.encode_rle``."""
    arr = np.asarray(values).ravel()
    n = len(arr)
    fields: list[tuple[int, int]] = [(n, 32), (7, 5)] + [(s - 1, 4) for s in _RLE_SIZES]
    if n:
        change = np.flatnonzero(arr[1:] != arr[:-1])
        ends = np.append(change, n - 1)
        lengths = np.diff(np.append(-1, ends))
        for length, value in zip(lengths.tolist(), arr[ends].tolist()):
            if length == 1:
                fields += [(0, 1), (0, 2), (0, 3), (value, 8)]
                continue
            while length > 2**16:
                fields += [(1, 1), (3, 2), (2**16 - 1, 16), (value, 8)]
                length -= 2**16
            for code, bits in enumerate(_RLE_SIZES):
                if length <= 2**bits or code == 3:
                    fields += [(1, 1), (code, 2), (length - 1, bits), (value, 8)]
                    break
    acc, nbits = 0, 0
    for value, width in fields:
        acc = (acc << width) | value
        nbits += width
    pad = 8 - nbits % 8  # like the SDK: always pad, a whole zero byte when already aligned
    acc <<= pad
    nbits += pad
    return list(acc.to_bytes(nbits // 8, "big"))


def encode_mask(mask: np.ndarray) -> list[int]:
    """RLE of a boolean mask as Label Studio's brush stores it (all four RGBA bytes 255 where painted)."""
    m = np.asarray(mask, bool).astype(np.uint8) * 255
    return encode(np.repeat(m.ravel(), 4))
