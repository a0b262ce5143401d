"""The NDJSON line splitter: a long line arriving in many pieces is joined once, not once per piece."""

from __future__ import annotations

from clearinghouse.tipline.lines import BOM, MAX_LINE_BYTES, LineSplitter, numbered_lines


def test_the_pieces_of_an_unfinished_line_are_kept_as_they_came() -> None:
    splitter = LineSplitter()
    pieces = [b"x" * 65536 for _ in range(64)]
    for piece in pieces:
        assert splitter.feed(piece) == []
    # Not one copy of the line so far per piece (which made a 64 MB line cost seconds): the pieces themselves.
    assert len(splitter.pending) == len(pieces)
    assert all(kept is given for kept, given in zip(splitter.pending, pieces, strict=True))
    assert splitter.feed(b"y\n{}") == [(1, b"x" * 65536 * 64 + b"y")]
    assert splitter.finish() == [(2, b"{}")]


def test_a_long_line_between_short_ones_keeps_every_number() -> None:
    long_line = b'{"a": "' + b"z" * 300_000 + b'"}'
    text = b'{"first": 1}\n\n' + long_line + b"\n   \n" + b'{"last": 2}\n'
    expected = [(1, b'{"first": 1}'), (3, long_line), (5, b'{"last": 2}')]
    for size in (1000, 4096, 65536, len(text)):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(numbered_lines(pieces)) == expected


def test_only_a_byte_order_mark_at_the_very_start_is_dropped() -> None:
    assert list(numbered_lines([b"", BOM + b"{}\n", BOM + b"[]"])) == [(1, b"{}"), (2, BOM + b"[]")]
    # A mark after the first bytes of the stream is content (the line then fails as JSON, by its number).
    assert list(numbered_lines([b"{", BOM + b"}"])) == [(1, b"{" + BOM + b"}")]
    assert list(numbered_lines([b"\n", BOM + b"{}"])) == [(2, BOM + b"{}")]


def test_a_stream_of_blank_pieces_has_no_lines() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"   ") == []
    assert splitter.feed(b"\r\n\n") == []
    assert splitter.feed(b"  ") == []
    assert splitter.finish() == []
    assert splitter.number == 2


def test_of_an_endless_line_no_more_is_kept_than_refusing_it_needs() -> None:
    splitter = LineSplitter()
    piece = b"x" * (1024 * 1024)
    for _ in range(3 * MAX_LINE_BYTES // len(piece)):
        assert splitter.feed(piece) == []
        assert splitter.kept <= MAX_LINE_BYTES + 1
    [(number, kept), second] = splitter.feed(b"xx\n{}\n")
    assert ((number, len(kept)), second) == ((1, MAX_LINE_BYTES + 1), (2, b"{}"))
    # A long line inside one piece is cut the same way, and the lines after it keep their numbers.
    assert [(n, len(line)) for n, line in splitter.feed(b"y" * (MAX_LINE_BYTES + 5) + b"\n[]")] == [
        (3, MAX_LINE_BYTES + 1)
    ]
    assert splitter.finish() == [(4, b"[]")]
