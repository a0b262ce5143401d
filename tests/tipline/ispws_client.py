"""A platform's client for the reporting interface, written from the XSD alone, never from our Python models.

`SchemaBuilder` turns nested dicts keyed by the schema's element names into request documents: children are
put in the order the schema declares them, unknown names are refused, and every document is validated
against the XSD before it leaves. `IspwsClient` speaks the HTTP side (Basic auth, XML and multipart bodies)
through any `httpx.Client` whose base URL is the service root, so the same client drives a fake, our
FastAPI app or any other server that implements the interface.

Data conventions: a scalar is an element's text; a dict is a complex element whose keys are child names,
"@name" attributes, or "#text" for the text of an element that also has attributes; a list repeats an element.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
_SHARED_XSD = Path(__file__).resolve().parents[3] / "shared" / "specs" / "cybertipline.xsd"
_PACKAGED_XSD = Path(__file__).resolve().parents[2] / "src/clearinghouse/tipline/xsd/cybertipline.xsd"


def default_xsd_path() -> Path:
    """The interface's published schema when the shared folder is beside the checkout, else the shipped copy."""
    return _SHARED_XSD if _SHARED_XSD.is_file() else _PACKAGED_XSD


class SchemaUsageError(ValueError):
    """The data names an element or attribute that the schema does not allow at that place."""


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class SchemaBuilder:
    """Builds and validates documents of the interface from the element declarations of its XSD."""

    def __init__(self, xsd_path: Path | None = None) -> None:
        document = etree.parse(str(xsd_path or default_xsd_path()))
        root = document.getroot()
        self.schema = etree.XMLSchema(document)
        self._elements = {e.get("name"): e for e in root.findall(f"{XS}element")}
        self._complex_types = {t.get("name"): t for t in root.findall(f"{XS}complexType")}

    def _resolve(self, declaration: etree._Element) -> etree._Element:
        ref = declaration.get("ref")
        return self._elements[ref] if ref else declaration

    def _complex_type(self, declaration: etree._Element) -> etree._Element | None:
        type_name = declaration.get("type")
        if type_name is not None:
            return self._complex_types.get(type_name)
        return declaration.find(f"{XS}complexType")

    def _own(self, declaration: etree._Element, tag: str) -> list[etree._Element]:
        """The `tag` declarations belonging to this element's type, not to types nested inside it."""
        complex_type = self._complex_type(self._resolve(declaration))
        if complex_type is None:
            return []
        found: list[etree._Element] = []
        for particle in complex_type.iter(f"{XS}{tag}"):
            owner = particle.getparent()
            while owner is not None and owner.tag not in (f"{XS}complexType", f"{XS}element"):
                owner = owner.getparent()
            if owner is complex_type:
                found.append(particle)
        return found

    def child_declarations(self, declaration: etree._Element) -> list[etree._Element]:
        """The element declarations allowed inside `declaration`, in schema order."""
        return [self._resolve(particle) for particle in self._own(declaration, "element")]

    def attribute_names(self, declaration: etree._Element) -> set[str]:
        return {attribute.get("name", "") for attribute in self._own(declaration, "attribute")}

    def element(self, name: str, data: object, declaration: etree._Element | None = None) -> etree._Element:
        """One element (and its subtree) from `data`, children in schema order."""
        declaration = self._resolve(declaration if declaration is not None else self._elements[name])
        node = etree.Element(name)
        if not isinstance(data, Mapping):
            node.text = _scalar(data) or None  # "" serialises as an empty element anyway
            return node
        children = {d.get("name"): d for d in self.child_declarations(declaration)}
        order = list(children)
        attributes = self.attribute_names(declaration)
        for key in sorted(data, key=lambda k: order.index(k) if k in children else -1):
            value = data[key]
            if key == "#text":
                node.text = _scalar(value) or None
            elif key.startswith("@"):
                if key[1:] not in attributes:
                    raise SchemaUsageError(f"<{name}> has no attribute {key[1:]!r}; it has {sorted(attributes)}")
                node.set(key[1:], _scalar(value))
            elif key in children:
                for item in value if isinstance(value, list) else [value]:
                    node.append(self.element(key, item, children[key]))
            else:
                raise SchemaUsageError(f"<{name}> has no child <{key}>; the schema allows {order}")
        return node

    def document(self, root: str, data: Mapping[str, Any], *, validate: bool = True) -> bytes:
        """A complete request document; by default refused unless the XSD accepts it."""
        node = self.element(root, data)
        if validate:
            self.schema.assertValid(node)
        return bytes(etree.tostring(node, xml_declaration=True, encoding="UTF-8"))


@dataclass
class Answer:
    """What the server said: HTTP status, Request-ID and the fields of its XML answer."""

    http_status: int
    request_id: str | None
    root: str | None = None
    code: int | None = None
    description: str | None = None
    report_id: int | None = None
    file_id: str | None = None
    hash: str | None = None
    file_ids: list[str] = field(default_factory=list)


class IspwsClient:
    """The calls of the interface, relative to the service root configured as the http client's base URL."""

    def __init__(self, http: httpx.Client, builder: SchemaBuilder | None = None) -> None:
        self.http = http
        self.builder = builder or SchemaBuilder()

    def _answer(self, response: httpx.Response) -> Answer:
        answer = Answer(http_status=response.status_code, request_id=response.headers.get("Request-ID"))
        if not response.content:
            return answer
        root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
        # A conforming server answers with documents the schema accepts.
        self.builder.schema.assertValid(root)
        answer.root = root.tag
        answer.code = int(root.findtext("responseCode", "-1"))
        answer.description = root.findtext("responseDescription")
        report_id = root.findtext("reportId")
        answer.report_id = int(report_id) if report_id else None
        answer.file_id = root.findtext("fileId")
        answer.hash = root.findtext("hash")
        answer.file_ids = [e.text or "" for e in root.findall("files/fileId")]
        return answer

    def _xml(self, path: str, body: bytes) -> Answer:
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        return self._answer(self.http.post(path, content=body, headers=headers))

    def status(self) -> Answer:
        return self._answer(self.http.get("status"))

    def xsd(self) -> bytes:
        return self.http.get("xsd").content

    def submit(self, report: Mapping[str, Any] | bytes) -> Answer:
        body = report if isinstance(report, bytes) else self.builder.document("report", report)
        return self._xml("submit", body)

    def upload(self, report_id: int, content: bytes, filename: str) -> Answer:
        files = {"file": (filename, content, "application/octet-stream")}
        return self._answer(self.http.post("upload", data={"id": str(report_id)}, files=files))

    def fileinfo(self, details: Mapping[str, Any] | bytes) -> Answer:
        body = details if isinstance(details, bytes) else self.builder.document("fileDetails", details)
        return self._xml("fileinfo", body)

    def finish(self, report_id: int) -> Answer:
        return self._answer(self.http.post("finish", data={"id": str(report_id)}))

    def retract(self, report_id: int) -> Answer:
        return self._answer(self.http.post("retract", data={"id": str(report_id)}))
