"""core/csvio: whole-file checks, CSV reading with line numbers, safe CSV writing."""
from __future__ import annotations

import csv
import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.core import csvio
from campaign.core.csvio import FileCheck, FileRefused, SeenKeys, neutralise


def check(data: bytes, piece: int = 7) -> FileCheck:
    return csvio.check_chunks(data[i:i + piece] for i in range(0, len(data), piece))


def rows_of(text: str, delimiter: str = ","):
    return list(csvio.read_rows(io.StringIO(text, newline=""), delimiter))


# ------------------------------------------------------------------ FileCheck


def test_a_plain_file_passes_and_keeps_its_header():
    info = check(b"a,b\n1,2\n3,4\n")
    assert info.header_line == "a,b" and info.size == 12 and info.lines == 2 and not info.bom


def test_bom_and_crlf_are_dropped_from_the_header():
    info = check("\ufeffa;b\r\n1;2".encode())
    assert info.header_line == "a;b" and info.bom and info.lines == 1


def test_header_only_file_has_zero_lines():
    assert check(b"a,b\n").lines == 0
    assert check(b"a,b").lines == 0


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\xef\xbb\xbf", "first line"),
    (b"\n1,2\n", "first line"),
    (b"a,b\n1,\x002\n", "binary"),
    ("a,b\n".encode("utf-16"), "UTF-16"),
    (b"a,b\n1,caf\xe9\n", "line 2"),
    (b"a,b\n1,2\n3,\xe2\x82", "ends in the middle"),
    (b"a" * (70 * 1024), "64 KiB"),
])
def test_refusals_say_why(data, words):
    with pytest.raises(FileRefused) as exc:
        check(data, piece=5)
    assert words in exc.value.message


def test_invalid_utf8_is_found_anywhere_and_across_chunk_boundaries():
    good = ("x,y\n" + "ą,ü\n" * 5000).encode()
    bad = good + b"1,\xff\n"
    check(good, piece=3)  # multi-byte characters split across pieces are fine
    with pytest.raises(FileRefused) as exc:
        check(bad, piece=1024)
    assert "line 5002" in exc.value.message


def test_nul_byte_deep_in_the_file_is_found():
    data = b"a,b\n" + b"1,2\n" * 300_000 + b"\x00"
    with pytest.raises(FileRefused, match="binary"):
        csvio.check_chunks(csvio.file_chunks(io.BytesIO(data)))


@pytest.mark.parametrize("header, delimiter", [
    ("a,b,c", ","), ("a;b;c", ";"), ("a", ","), ('"x;y",b,c', ","), ('"x,y";b;c', ";"),
])
def test_delimiter_is_detected_from_the_header(header, delimiter):
    assert csvio.sniff_delimiter(header) == delimiter


def test_header_names_are_trimmed_and_lowercased():
    assert csvio.split_header(' Client_Ref ;"First Name";x', ";") == ["client_ref", "first name", "x"]


# ------------------------------------------------------------------ reading


def test_records_carry_their_first_line_and_raw_text():
    text = 'h1,h2\r\n1,"two\r\nlines"\r\n\r\n3,"say ""hi"", ok"\r\n4,x'
    got = rows_of(text)
    assert [(line, fields) for line, fields, _ in got] == [
        (1, ["h1", "h2"]), (2, ["1", "two\r\nlines"]), (4, []), (5, ["3", 'say "hi", ok']), (6, ["4", "x"])]
    assert got[1][2] == '1,"two\r\nlines"'
    assert got[3][2] == '3,"say ""hi"", ok"'


def test_reading_streams_through_the_counting_reader():
    data = ("a;b\n" + "".join(f"{i};ü{i}\n" for i in range(50_000))).encode("utf-8-sig")
    pieces = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    reader = csvio.CountingReader(pieces)
    got = list(csvio.read_rows(csvio.text_stream(reader), ";"))
    assert got[0][1] == ["a", "b"]  # the BOM is gone
    assert got[-1] == (50_001, ["49999", "ü49999"], "49999;ü49999")
    assert reader.bytes_read == len(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
                         min_size=2, max_size=2), max_size=20),
       st.sampled_from([",", ";"]))
def test_what_csv_writer_writes_read_rows_reads_back(rows, delimiter):
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows([["h1", "h2"]] + rows)
    got = rows_of(out.getvalue(), delimiter)
    # csv.writer writes a row of one empty field as "" on its own line; both read back the same.
    assert [f for _, f, _ in got[1:]] == rows
    lines = [line for line, _, _ in got]
    assert lines == sorted(lines) and lines[0] == 1


# ------------------------------------------------------------------ writing


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"),
    ("a=b", "a=b"), (None, ""), (12, "12"), ("", ""),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_csv_lines_are_neutralised_quoted_and_start_with_a_bom():
    text = "".join(csvio.csv_lines([("line", "reason"), (3, '=cmd|"/c calc"!A1'), (4, "a,b\nc")]))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert rows == [["line", "reason"], ["3", "'=cmd|\"/c calc\"!A1"], ["4", "a,b\nc"]]


# ------------------------------------------------------------------ SeenKeys


def test_seen_keys_agrees_with_a_set():
    seen, truth = SeenKeys(), set()
    rnd = random.Random(3)
    for _ in range(60):
        batch = {f"K{rnd.randrange(20_000)}" for _ in range(rnd.randrange(1, 400))}
        for probe in (f"K{rnd.randrange(20_000)}" for _ in range(200)):
            assert (probe in seen) == (probe in truth)
        new = batch - truth  # the import adds only keys it has not seen (others are rejected)
        seen.add_many(new)
        truth |= new
    assert len(seen) == len(truth)
    assert len(seen._levels) <= 12  # sizes double: a logarithmic number of sorted arrays
