"""Imports every program's tables so that the metadata (and Alembic) sees the whole schema."""

from __future__ import annotations

import importlib

from clearinghouse.db.base import Base

PROGRAM_MODELS = (
    "clearinghouse.access.models",
    "clearinghouse.geo.models",
    "clearinghouse.tipline.models",
    "clearinghouse.hashing.models",
    "clearinghouse.victim_id.models",
    "clearinghouse.missing.models",
    "clearinghouse.trafficking.models",
    "clearinghouse.support.models",
    "clearinghouse.response.models",
    "clearinghouse.education.models",
    "clearinghouse.web.models",
)

for _module in PROGRAM_MODELS:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as error:  # a program without tables yet (its package or its models module)
        if error.name is None or not (_module == error.name or _module.startswith(error.name + ".")):
            raise

metadata = Base.metadata
