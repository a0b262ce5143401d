"""The Jinja2 environment of the web pages (templates under clearinghouse/web/templates, autoescaped)."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

templates = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("clearinghouse.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
