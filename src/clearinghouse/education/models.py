"""Table of professionals registered on the education platform."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, CreatedMixin, IdMixin, UTCDateTime


class Profession(enum.StrEnum):
    """Law enforcement, or a profession serving children (social work, health, education, ...)."""

    LAW_ENFORCEMENT = "law_enforcement"
    CHILD_SERVING = "child_serving"


class Professional(IdMixin, CreatedMixin, Base):
    """One registration; the e-mail address is the identity, so a second registration is refused."""

    __tablename__ = "professionals"
    __table_args__ = (sa.Index("ix_professionals_state_registered", "state_code", "registered_at"),)

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    profession: Mapped[Profession] = mapped_column(sa.Enum(Profession, native_enum=False, length=16))
    organization: Mapped[str] = mapped_column(sa.String(200))
    state_code: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"))
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
