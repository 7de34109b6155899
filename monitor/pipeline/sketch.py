"""Near-duplicate sketches (pure): MinHash over word shingles, with LSH band keys.

Syndicated copies of a wire story share most of their word sequences even
when the headline, the outlet's boilerplate or a few sentences differ.  The
resemblance of two texts is the Jaccard similarity of their sets of 5-word
shingles; MinHash estimates it from fixed-size signatures, and LSH banding
turns a signature into a few keys such that texts of high resemblance share
at least one key with high probability.  Storing those keys in an indexed
table makes the candidate lookup a handful of index probes, whatever the
number of stored items (see docs/design.md, "Deduplication").

* 128 multiply-shift hashes ``(a*x + b mod 2**64) >> 32`` (a universal
  family that needs no division, so numpy computes 128 of them over every
  shingle of an article in a fraction of a millisecond) over a 32-bit hash of
  each shingle (from its words' CRC-32, see :func:`shingle_hashes`); the
  parameters are fixed by :data:`SKETCH_VERSION` because stored signatures
  depend on them.
* 32 bands of 4 rows.  A pair with resemblance J becomes a candidate with
  probability ``1 - (1 - J**4)**32``: 0.87 at J = 0.5, 0.99 at J = 0.6,
  0.0002 at J = 0.05 (unrelated articles).  Candidates are then checked on
  their full signatures against the configured threshold.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported when a text is sketched: storage and a poll of
    import numpy as np  # feeds answering 304 never need it (tests/test_startup.py)

SKETCH_VERSION = "minhash-ms-128x5w-v2"
PERMUTATIONS = 128
BANDS = 32
ROWS = PERMUTATIONS // BANDS
SHINGLE_WORDS = 5
MIN_SHINGLES = 8  # below this a text is too short to compare meaningfully

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Sketch:
    """A text's MinHash signature (128 x uint32, little-endian bytes) and its band keys."""

    signature: bytes
    bands: tuple[int, ...]
    words: int = 0  # the text's length in words, for the minimum the store applies

    def values(self) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self.signature, dtype="<u4")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored item that shares a band key with a new text."""

    item_id: int
    cluster_id: int | None
    signature: bytes


@cache
def _constants() -> tuple[np.uint64, np.uint64, np.ndarray, np.ndarray]:
    """The hashes' constants (the same on every call and every run): the rolling base,
    the shift, and multiply-shift's 64-bit odd multipliers and 64-bit offsets."""
    import numpy as np

    rng = np.random.RandomState(20261125)
    a = rng.randint(0, 1 << 63, size=PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.randint(0, 1 << 63, size=PERMUTATIONS, dtype=np.uint64) * np.uint64(2)
    # the rolling base is odd; the arithmetic wraps modulo 2**64
    return np.uint64(0x9E3779B97F4A7C15), np.uint64(32), a, b


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(folded)


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    return _shingles_of(words(text), size)


def _shingles_of(tokens: list[str], size: int = SHINGLE_WORDS) -> set[str]:
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def signature(items: Iterable[str]) -> np.ndarray:
    """MinHash of arbitrary strings (CRC-32 of each); for measurements and tests."""
    import numpy as np

    return minhash(np.fromiter((zlib.crc32(s.encode("utf-8")) for s in items), dtype=np.uint64))


def band_keys(values: np.ndarray) -> tuple[int, ...]:
    """One signed 64-bit key per band (the band number is hashed in, so keys never clash
    across bands even though they share one index)."""
    keys = []
    for band in range(BANDS):
        rows = values[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(bytes([band]) + rows, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def shingle_hashes(tokens: list[str], size: int = SHINGLE_WORDS) -> np.ndarray:
    """The distinct 32-bit hashes of a text's ``size``-word shingles.

    Each word is hashed once (CRC-32) and each shingle's hash is the top 32 bits
    of a polynomial of its words' hashes modulo 2**64, computed for all shingles
    at once: no shingle string is ever built."""
    import numpy as np

    roll_base, shift, _, _ = _constants()
    hashed = np.fromiter(
        (zlib.crc32(t.encode("utf-8")) for t in tokens), dtype=np.uint64, count=len(tokens)
    )
    count = max(len(tokens) - size + 1, 1)
    rolled = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(min(size, len(tokens))):
            rolled = rolled * roll_base + hashed[k : k + count]
    result: np.ndarray = np.unique(rolled >> shift)
    return result


def minhash(hashes: np.ndarray) -> np.ndarray:
    """The 128 minima of multiply-shift hashes ``(a*x + b mod 2**64) >> 32`` over
    ``hashes`` (uint64 values below 2**32)."""
    import numpy as np

    _, shift, a, b = _constants()
    with np.errstate(over="ignore"):
        products = (a[:, None] * hashes[None, :] + b[:, None]) >> shift
    result: np.ndarray = products.min(axis=1).astype("<u4")
    return result


def sketch_text(text: str | None) -> Sketch | None:
    """The sketch of ``text``, or None when it is too short to compare."""
    if not text:
        return None
    tokens = words(text)
    if not tokens:
        return None
    hashes = shingle_hashes(tokens)
    if len(hashes) < MIN_SHINGLES:
        return None
    values = minhash(hashes)
    return Sketch(values.tobytes(), band_keys(values), len(tokens))


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard resemblance of two signatures."""
    import numpy as np

    left = np.frombuffer(a, dtype="<u4")
    right = np.frombuffer(b, dtype="<u4")
    if left.shape != right.shape:
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)


def best_match(
    sketch: Sketch, candidates: Sequence[Candidate], threshold: float
) -> tuple[Candidate, float] | None:
    """The most similar candidate at or above ``threshold`` (ties: the oldest item)."""
    best: tuple[Candidate, float] | None = None
    for candidate in sorted(candidates, key=lambda c: c.item_id):
        score = similarity(sketch.signature, candidate.signature)
        if score >= threshold and (best is None or score > best[1]):
            best = (candidate, score)
    return best
