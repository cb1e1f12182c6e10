"""CSV in and out, in constant memory.

* ``FileCheck`` looks at a byte stream piece by piece (as it is uploaded or
  read from disk) and refuses it whole — empty, binary, UTF-16, not UTF-8
  anywhere in the file — before a single row is written; it keeps the header
  line so the caller can tell which kind of file it is.
* ``read_rows`` parses RFC 4180 CSV from a text stream and gives each record
  with the line it starts on (the header is line 1; a record with quoted
  line breaks is reported at its first line) and its raw text.
* ``neutralise`` and ``csv_lines`` write CSV that a spreadsheet cannot turn
  into a formula.
* ``SeenKeys`` remembers which keys a file has already used in 8 bytes per key.

Nothing here knows about features; ``FileRefused`` is a 422 wherever it lands.
"""
from __future__ import annotations

import codecs
import csv
import heapq
import io
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator

from .errors import ValidationError

CHUNK_BYTES = 1024 * 1024
READ_BUFFER = 64 * 1024
MAX_HEADER_CHARS = 64 * 1024
BOM = "\ufeff"
DELIMITERS = (",", ";")


class FileRefused(ValidationError):
    """The whole file is refused with one message; nothing of it is written."""

    code = "file_refused"


# ------------------------------------------------------------------ checking


class FileCheck:
    """Incremental whole-file check: feed byte chunks in order, then ``finish()``.

    Guarantees, once ``finish()`` returned without raising: the file is not
    empty, has no NUL byte, is valid UTF-8 from the first byte to the last
    (an optional UTF-8 BOM aside) and has a first line of at most 64 KiB.
    Memory stays bounded by one chunk plus the header line.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.size = 0
        self.newlines = 0
        self.bom = False
        self.ends_with_newline = False
        self._head: list[str] = []
        self._head_chars = 0
        self.header_line: str | None = None

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.size == 0:
            if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise FileRefused("This file is saved as UTF-16 text, not UTF-8. Save it again "
                                  "as “CSV UTF-8” and upload that.")
            if chunk.startswith(codecs.BOM_UTF8):
                self.bom = True
        if b"\x00" in chunk:
            at = self.size + chunk.index(b"\x00")
            raise FileRefused(f"This is a binary file, not a CSV (it contains a NUL byte at byte "
                              f"{at + 1}). Export the data as CSV UTF-8 and upload that.")
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            line = self.newlines + chunk.count(b"\n", 0, exc.start) + 1
            raise FileRefused(f"This file is not UTF-8 text: line {line} has a byte that is not "
                              f"valid UTF-8 (byte {self.size + exc.start + 1}). Save the file as "
                              f"“CSV UTF-8” and upload it again.") from None
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.ends_with_newline = chunk.endswith(b"\n")
        if self.header_line is None and text:
            self._keep_head(text)

    def _keep_head(self, text: str) -> None:
        # A line ends at LF, CRLF or a lone CR (old Mac files), as the reader sees it.
        cut = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
        self._head.append(text if cut < 0 else text[:cut])
        self._head_chars += len(self._head[-1])
        if self._head_chars > MAX_HEADER_CHARS:
            raise FileRefused("The first line is longer than 64 KiB, so it cannot be a CSV "
                              "header. Is this a CSV file?")
        if cut < 0:
            return
        self.header_line = "".join(self._head).removeprefix(BOM).rstrip("\r")
        self._head = []

    def finish(self) -> "FileCheck":
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileRefused("This file is not UTF-8 text: it ends in the middle of a character. "
                              "Save the file as “CSV UTF-8” and upload it again.") from None
        if self.size == 0:
            raise FileRefused("The file is empty (0 bytes). Choose the CSV file with a header line.")
        if self.header_line is None:
            self.header_line = "".join(self._head).removeprefix(BOM).rstrip("\r")
            self._head = []
        if not self.header_line.strip():
            raise FileRefused("The first line of the file is empty; it must be the header line "
                              "with the column names.")
        return self

    @property
    def lines(self) -> int:
        """Physical lines after the header (a quoted line break counts as a line)."""
        total = self.newlines + (0 if self.ends_with_newline else 1)
        return max(0, total - 1)


def check_chunks(chunks: Iterable[bytes]) -> FileCheck:
    check = FileCheck()
    for chunk in chunks:
        check.feed(chunk)
    return check.finish()


def file_chunks(stream, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk


def sniff_delimiter(header_line: str) -> str:
    """``;`` when the header has more semicolons than commas outside quotes, else ``,``."""
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    return ";" if counts[";"] > counts[","] else ","


def split_header(header_line: str, delimiter: str) -> list[str]:
    """Header names trimmed and lower-cased (matching is case-insensitive).

    Read as strictly as the rows (``read_rows``): a quote never closed, which
    would run the header on into the rows, or text after a closing quote is
    ``FileRefused``."""
    try:
        fields = next(csv.reader([header_line + "\n"], delimiter=delimiter, strict=True), [])
    except csv.Error:
        raise FileRefused('A quote (") in the header line is not closed, or is followed by more text, '
                          "so the column names cannot be read. Fix the first line and upload the file "
                          "again.") from None
    return [f.strip().lower() for f in fields]


# ------------------------------------------------------------------ reading


class CountingReader(io.RawIOBase):
    """A raw byte stream over an iterator of chunks that counts bytes handed out,
    so progress is the fraction of the file read so far."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buf = memoryview(b"")
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = memoryview(chunk)
        n = min(len(target), len(self._buf))
        target[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.bytes_read += n
        return n


def text_stream(raw: io.RawIOBase) -> io.TextIOWrapper:
    """UTF-8 text with the BOM dropped and line endings kept (``newline=""``, as csv wants)."""
    return io.TextIOWrapper(io.BufferedReader(raw, READ_BUFFER), encoding="utf-8-sig",
                            newline="")


def read_rows(text: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """Yield ``(line, fields, raw)`` for every record, header included.

    ``line`` is where the record starts (header = 1). ``raw`` is the record's
    text as it was in the file, without the final line break. A record the
    csv module cannot parse (e.g. a field over its size limit after a stray
    quote) comes as ``fields=None`` and reading goes on with the next line.
    Reading is strict: text after a closing quote (``"N1"1``) is such a record,
    not a field the csv module glues together.
    """
    consumed: list[str] = []
    physical = 0

    def lines():
        nonlocal physical
        for line in text:
            physical += 1
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, quotechar='"', doublequote=True,
                        skipinitialspace=False, strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            fields = None
        raw = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        yield start, fields, raw
        start = physical + 1


# ------------------------------------------------------------------ writing

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """A cell as text that no spreadsheet evaluates: values starting with
    ``= + - @``, a tab or a carriage return get a leading single quote (OWASP's
    advice against CSV/formula injection). ``None`` becomes an empty cell."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Line:
    def __init__(self):
        self.value = ""

    def write(self, s):
        self.value = s


def csv_lines(rows: Iterable[Iterable], *, bom: bool = True) -> Iterator[str]:
    """Neutralised CSV text, one record at a time (for streamed downloads).

    Starts with a UTF-8 BOM by default so spreadsheet programs read UTF-8."""
    if bom:
        yield BOM
    out = _Line()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        yield out.value


# ------------------------------------------------------------------ duplicates


class SeenKeys:
    """The set of keys a file has used so far, in about 8 bytes per key.

    Keys are kept as 64-bit hashes in sorted arrays whose sizes double (a
    small log-structured merge), so adding is amortised O(log n) and nothing
    grows by Python objects per row. Two different keys share a hash with a
    probability of about n²/2⁶⁵ (≈ 3·10⁻⁸ for a million keys): the price of
    constant-ish memory, paid by rejecting that one row as a duplicate.
    """

    def __init__(self) -> None:
        self._levels: list[array] = []

    @staticmethod
    def _h(key: str) -> int:
        return hash(key)

    def __contains__(self, key: str) -> bool:
        h = self._h(key)
        for level in self._levels:
            i = bisect_left(level, h)
            if i < len(level) and level[i] == h:
                return True
        return False

    def add_many(self, keys: Iterable[str]) -> None:
        """Remember keys not seen yet (one already seen would only be counted twice)."""
        new = array("q", sorted({self._h(k) for k in keys}))
        if not new:
            return
        while self._levels and len(self._levels[-1]) <= 2 * len(new):
            new = array("q", heapq.merge(self._levels.pop(), new))
        self._levels.append(new)

    def __len__(self) -> int:
        return sum(len(level) for level in self._levels)
