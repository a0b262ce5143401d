"""Hostile-input-safe parsing of platform XML (bounded size, no DTDs or entities, XSD-valid), and its readers.

Every `report` and `fileDetails` body a platform sends goes through `parse_document` before anything else
looks at it. The checks run cheapest first, and each failure becomes a `WireError` carrying the response code
the platform interface defines, so the caller can answer without storing anything.

Which code each hostile or broken body gets (decided here, asserted in tests/tipline/test_xmlsafe.py):

- 4000 invalid request: a body over the size limit (a 50 MB body is refused by its length, never parsed);
  any DOCTYPE at all, which covers XXE (external entities), billion laughs, external DTDs and parameter
  entities: the interface has no use for a DTD, so a well-formed document carrying one is a request we never
  accept, whatever the DTD says; a document past one of libxml2's limits (entity amplification, the same attack
  caught by the backstop parser; elements nested more than 256 deep; one text of 10 MB); a well-formed document
  with the wrong root element or a namespaced root.
- 4110 malformed XML: not well-formed (empty, truncated, bad nesting, an undeclared entity reference).
- 4100 schema validation failed: the right root, but the XSD refuses it; the description names the element
  path, the line and libxml2's reason.
- 4000 again for a schema-valid document holding more than `MAX_REPORT_ENTRIES` repeated elements (those the
  XSD lets repeat: victims, accounts, IP events, phones, ...) in all: lists nest, so each within its own bound
  can still multiply into hundreds of thousands of entries. They are counted before any is converted, and the
  count stops at the bound, so refusing costs no more than parsing.

The readers below give 4000 for a value the schema admits but intake refuses (a time outside the years intake
keeps, more repeated elements than `MAX_ENTRIES`), naming the element. Its path is computed only then:
`getpath` counts an element's earlier siblings, so computing it for every element of a report with thousands of
victims cost time quadratic in their number.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from functools import lru_cache
from importlib import resources
from typing import NoReturn, Protocol, cast
from xml.parsers import expat

from lxml import etree

from clearinghouse.tipline.wire_schemas import MAX_ENTRIES, MAX_REPORT_ENTRIES, OUT_OF_RANGE, in_range

# Platforms send a report's XML without its files (they go through /upload), so real bodies are a few KB;
# 10 MB leaves room for reports listing thousands of accounts while refusing memory-exhaustion attempts.
DEFAULT_MAX_XML_BYTES = 10 * 1024 * 1024

# lxml's messages for an enumeration failure list every allowed value (about 250 countries); past this
# length the description stops helping the platform's engineer and only bloats the response.
MAX_SCHEMA_MESSAGE_CHARS = 600


class ResponseCode(IntEnum):
    """The `responseCode` values of the platform interface."""

    SUCCESS = 0
    SERVER_ERROR = 1000
    SAVE_FAILED = 1100
    UPLOAD_FAILED = 1110
    FILE_UPLOAD_FAILED = 1111
    RESOURCE_NOT_FOUND = 1210
    UPDATE_FAILED = 1300
    AUTHENTICATION_REQUIRED = 2000
    NOT_AUTHORIZED = 3000
    NOT_AUTHORIZED_TO_SUBMIT = 3100
    NOT_AUTHORIZED_TO_UPDATE = 3300
    INVALID_REQUEST = 4000
    SCHEMA_VALIDATION_FAILED = 4100
    MALFORMED_XML = 4110
    MALFORMED_FILE = 4200
    REPORT_DOES_NOT_EXIST = 5001
    FILE_DOES_NOT_EXIST = 5002
    REPORT_ALREADY_RETRACTED = 5101
    REPORT_ALREADY_FINISHED = 5102

    @property
    def default_description(self) -> str:
        """A short label for the code, used when the caller has nothing more specific to say."""
        return self.name.replace("_", " ").capitalize()


class WireError(Exception):
    """A request the platform interface refuses, with the response code and a description to send back."""

    def __init__(self, code: ResponseCode, description: str) -> None:
        super().__init__(f"{int(code)} {description}")
        self.code = code
        self.description = description


class _DoctypeFound(Exception):
    """Raised inside the prolog scan when the body declares a DTD."""


class _RootReached(Exception):
    """Raised inside the prolog scan at the first element: the prolog had no DTD."""


def _refuse_doctype(*_args: object) -> NoReturn:
    raise _DoctypeFound


def _stop_at_root(*_args: object) -> NoReturn:
    raise _RootReached


def _prolog_declares_dtd(body: bytes) -> bool:
    """Whether the body declares a DTD, found by scanning only the prolog (the part before the root element).

    A DTD may only appear before the root element, so stopping there keeps this cheap for large bodies.
    expat is used because it reports the DOCTYPE before reading any entity declaration in it, so the
    classification does not depend on what the DTD contains. A prolog expat cannot read (an encoding it does
    not know, broken syntax) is left to lxml, which is configured never to resolve anything anyway.
    """
    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = _refuse_doctype
    scanner.EntityDeclHandler = _refuse_doctype
    scanner.StartElementHandler = _stop_at_root
    try:
        scanner.Parse(body, True)
    except _DoctypeFound:
        return True
    except (_RootReached, expat.ExpatError, ValueError, LookupError):
        # ValueError/LookupError: expat refuses multi-byte or unknown encodings; lxml handles those.
        return False
    return False


class _RefuseEveryResource(etree.Resolver):
    """Resolver that refuses to open any URL or file, in case libxml2 ever asks despite the parser flags."""

    def resolve(self, system_url: str, public_id: str, context: object) -> None:  # type: ignore[override]
        raise WireError(ResponseCode.INVALID_REQUEST, "external resources are not accepted")


def _safe_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    parser.resolvers.add(_RefuseEveryResource())
    return parser


# libxml2 error types that mean "this document attacks the parser" rather than "this document is broken".
_HOSTILE_ERROR_TYPES = frozenset(
    {
        etree.ErrorTypes.ERR_RESOURCE_LIMIT,
        etree.ErrorTypes.ERR_ENTITY_LOOP,
        etree.ErrorTypes.ERR_ENTITY_PE_INTERNAL,
        etree.ErrorTypes.ERR_EXT_ENTITY_STANDALONE,
    }
)


_PARSER_ADVICE = re.compile(r",? (use|try) XML_PARSE_HUGE( option)?$")


class _LogEntry(Protocol):
    """The fields of an lxml error-log entry we read (lxml-stubs leaves the log untyped)."""

    message: str
    type: int
    line: int
    path: str | None


def _first_or_last(log: object, *, last: bool) -> _LogEntry | None:
    entries = list(cast("Iterable[_LogEntry]", log))
    if not entries:
        return None
    return entries[-1] if last else entries[0]


def _parse_bytes(body: bytes) -> etree._Element:
    """Parse well-formed XML with every resolving feature off; never called on a body over the size limit."""
    try:
        return etree.fromstring(body, _safe_parser())
    except WireError:
        raise
    except etree.XMLSyntaxError as error:
        last = _first_or_last(error.error_log, last=True)
        if last is not None and last.type in _HOSTILE_ERROR_TYPES:
            # The same libxml2 type stops nesting 256 deep and a text of 10 MB as well as entity expansion; its
            # advice (XML_PARSE_HUGE) is about our parser, not about what the platform could change.
            reason = _PARSER_ADVICE.sub("", last.message.strip())
            raise WireError(
                ResponseCode.INVALID_REQUEST, f"the document goes past a limit of the XML parser: {reason}"
            ) from None
        raise WireError(ResponseCode.MALFORMED_XML, f"malformed XML: {error.msg}") from None


@lru_cache(maxsize=1)
def schema_bytes() -> bytes:
    """The XSD shipped with the package, byte for byte (what GET /xsd serves)."""
    return resources.files("clearinghouse.tipline").joinpath("xsd/cybertipline.xsd").read_bytes()


@lru_cache(maxsize=1)
def _schema_document() -> etree._Element:
    return etree.fromstring(schema_bytes(), _safe_parser())


# A compiled schema keeps its error log on the object, so threads (FastAPI runs sync routes in a pool) each
# get their own; compiling costs a few milliseconds, once per thread.
_per_thread = threading.local()


def schema() -> etree.XMLSchema:
    """The compiled XSD for the calling thread, compiled on its first use."""
    compiled: etree.XMLSchema | None = getattr(_per_thread, "schema", None)
    if compiled is None:
        compiled = etree.XMLSchema(_schema_document())
        _per_thread.schema = compiled
    return compiled


_XS = "{http://www.w3.org/2001/XMLSchema}"


@lru_cache(maxsize=1)
def _repeatable() -> tuple[tuple[str, ...], frozenset[tuple[str, str]]]:
    """The elements the XSD lets repeat, as (parent, child) names, and the names of those children.

    A repeatable declaration sits in the type of its parent: an anonymous type names its parent, a named one
    every element declared of it. The pairs tell an entry from a single element of the same name (the street
    `address` inside an `address`, the `additionalInfo` of the report itself).
    """
    document = _schema_document()
    pairs: set[tuple[str, str]] = set()
    for declaration in document.iter(f"{_XS}element"):
        if declaration.get("maxOccurs", "1") == "1":
            continue
        child = declaration.get("name") or declaration.get("ref") or ""
        owner = next(declaration.iterancestors(f"{_XS}complexType"))
        type_name = owner.get("name")
        if type_name is None:
            parents = [str(next(owner.iterancestors(f"{_XS}element")).get("name"))]
        else:
            parents = [str(e.get("name")) for e in document.iter(f"{_XS}element") if e.get("type") == type_name]
        pairs.update((parent, child) for parent in parents)
    return tuple(sorted({child for _, child in pairs})), frozenset(pairs)


def _refuse_crowded(root: etree._Element) -> None:
    """Refuse a document with more than `MAX_REPORT_ENTRIES` repeated elements, counting no further."""
    names, pairs = _repeatable()
    count = 0
    for element in root.iter(*names):
        parent = element.getparent()
        if parent is not None and (parent.tag, element.tag) in pairs:
            count += 1
            if count > MAX_REPORT_ENTRIES:
                raise WireError(
                    ResponseCode.INVALID_REQUEST,
                    f"/{_tag_name(root)}: more than {MAX_REPORT_ENTRIES} repeated elements in all (victims, "
                    f"accounts, IP events, phones, ...); at most {MAX_REPORT_ENTRIES} are accepted",
                )


def _tag_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _root_description(root: etree._Element) -> str:
    qname = etree.QName(root)
    return f"{{{qname.namespace}}}{qname.localname}" if qname.namespace else qname.localname


_INDEX_ONE = re.compile(r"\[1\]")


def _schema_failure(root: etree._Element, validator: etree.XMLSchema) -> WireError:
    """The first schema complaint as a 4100 naming the element path, line and libxml2's reason."""
    entry = _first_or_last(validator.error_log, last=False)
    if entry is None:  # pragma: no cover - libxml2 always logs why validation failed
        return WireError(ResponseCode.SCHEMA_VALIDATION_FAILED, "schema validation failed")
    path = _INDEX_ONE.sub("", entry.path or "") or f"/{_tag_name(root)}"
    message = entry.message
    if len(message) > MAX_SCHEMA_MESSAGE_CHARS:
        message = message[:MAX_SCHEMA_MESSAGE_CHARS] + "…"
    return WireError(
        ResponseCode.SCHEMA_VALIDATION_FAILED,
        f"schema validation failed at {path} (line {entry.line}): {message}",
    )


_END_OF_DAY = re.compile(r"T24:00:00(\.0+)?")
_DATE_ZONE = re.compile(r"(Z|[+-]\d{2}:\d{2})$")

Where = str | Callable[[], str]
"""Where a value sits in its document, for an error message: the path, or a function that computes it."""


def _named(where: Where) -> str:
    return where if isinstance(where, str) else where()


def xs_datetime(value: str | None, where: Where) -> datetime | None:
    """An xs:dateTime as an aware datetime; `where` names the value in the error if it is out of range.

    Without an offset the value is taken as UTC: intake keeps only timezone-aware values, and UTC is the one
    zone that needs no guess about where the platform's servers are. "24:00:00" is the next day's midnight.
    A value Python cannot hold (a year past 9999, or before 1) or outside the years intake keeps is refused.
    """
    if value is None:
        return None
    text, next_day = _END_OF_DAY.subn("T00:00:00", value)
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed += timedelta(days=next_day)
    except (ValueError, OverflowError):  # OverflowError: the midnight after 9999-12-31
        parsed = None
    if parsed is None or not in_range(parsed):
        raise WireError(ResponseCode.INVALID_REQUEST, f"{_named(where)}: date-time {value!r} {OUT_OF_RANGE}")
    return parsed


def xs_date(value: str | None, where: Where) -> date | None:
    """An xs:date as a date; a time-zone suffix on a date carries nothing we use and is dropped."""
    if value is None:
        return None
    try:
        return date.fromisoformat(_DATE_ZONE.sub("", value))
    except ValueError:
        raise WireError(
            ResponseCode.INVALID_REQUEST, f"{_named(where)}: date {value!r} is outside the years 1 to 9999"
        ) from None


def parse_document(body: bytes, *, expected_root: str, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> etree._Element:
    """Parse and schema-validate one request body whose root must be `expected_root`; raise `WireError`."""
    if len(body) > max_bytes:
        raise WireError(
            ResponseCode.INVALID_REQUEST,
            f"request body is {len(body)} bytes; the limit is {max_bytes} bytes",
        )
    if _prolog_declares_dtd(body):
        raise WireError(ResponseCode.INVALID_REQUEST, "DOCTYPE and entity declarations are not accepted")
    root = _parse_bytes(body)
    docinfo = root.getroottree().docinfo
    # Backstop for prologs expat could not scan: lxml kept the DTD unresolved, but we still refuse it.
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.system_url:
        raise WireError(ResponseCode.INVALID_REQUEST, "DOCTYPE and entity declarations are not accepted")
    if etree.QName(root).namespace is not None or _tag_name(root) != expected_root:
        raise WireError(
            ResponseCode.INVALID_REQUEST,
            f"expected root element <{expected_root}> without a namespace, got <{_root_description(root)}>",
        )
    validator = schema()
    if not validator.validate(root):
        raise _schema_failure(root, validator)
    _refuse_crowded(root)
    return root


# Readers for a tree that has passed `parse_document`: the schema guarantees the shape, these give the values.


def element_path(element: etree._Element) -> str:
    """The element's XPath in its document, for error messages (linear in its earlier siblings: errors only)."""
    return str(element.getroottree().getpath(element))


def _child_path(element: etree._Element, name: str) -> Callable[[], str]:
    return lambda: f"{element_path(element)}/{name}"


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """Every child called `name`; more than `MAX_ENTRIES` of them is refused before any is read.

    `iterchildren` matches the name in C; `findall` compiles and walks an ElementPath per call, twice the cost,
    and a report's reader asks a dozen times per account.
    """
    found = list(element.iterchildren(name))
    if len(found) > MAX_ENTRIES:
        raise WireError(
            ResponseCode.INVALID_REQUEST,
            f"{element_path(element)}: {len(found)} <{name}> elements; at most {MAX_ENTRIES} are accepted",
        )
    return found


def clean_text(text: str | None) -> str | None:
    """An xs:string as we keep it: stripped, and None when empty (the schema allows "" for "not given")."""
    if text is None:
        return None
    stripped = text.strip()
    return stripped or None


def child_text(element: etree._Element, name: str) -> str | None:
    """The cleaned text of the first child called `name`, if there is one (see `children` on `iterchildren`)."""
    child = next(element.iterchildren(name), None)
    return None if child is None else clean_text(child.text)


def child_texts(element: etree._Element, name: str) -> list[str]:
    """The cleaned, non-empty texts of every child called `name` (see `children`)."""
    return [value for child in children(element, name) if (value := clean_text(child.text)) is not None]


def joined_texts(element: etree._Element, name: str) -> str | None:
    """Repeatable elements that mean one note (additionalInfo on some parties), joined into one text."""
    return "\n\n".join(child_texts(element, name)) or None


def xs_boolean(value: str | None) -> bool | None:
    """An xs:boolean ("true", "false", "1", "0")."""
    return None if value is None else value.strip() in ("true", "1")


def xs_int(value: str | None) -> int | None:
    """An xs:int or xs:long."""
    return None if value is None else int(value)


def xs_double(value: str | None) -> float | None:
    """An xs:double; INF and NaN are valid values, so callers check finiteness where it matters."""
    return None if value is None else float(value)


def child_datetime(element: etree._Element, name: str) -> datetime | None:
    """The first child called `name` as an aware datetime (see `xs_datetime`)."""
    return xs_datetime(child_text(element, name), _child_path(element, name))


def child_date(element: etree._Element, name: str) -> date | None:
    """The first child called `name` as a date (see `xs_date`)."""
    return xs_date(child_text(element, name), _child_path(element, name))


def attribute(element: etree._Element, name: str) -> str | None:
    """An attribute's cleaned value."""
    return clean_text(element.get(name))


def attribute_datetime(element: etree._Element, name: str) -> datetime | None:
    """An attribute as an aware datetime (see `xs_datetime`)."""
    return xs_datetime(attribute(element, name), _child_path(element, f"@{name}"))
