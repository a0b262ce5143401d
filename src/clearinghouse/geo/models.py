"""Tables of jurisdictions and the agencies that serve them."""

from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, CreatedMixin, IdMixin


class JurisdictionKind(enum.StrEnum):
    """What sort of place a jurisdiction is."""

    STATE = "state"
    DISTRICT = "district"
    TERRITORY = "territory"
    FEDERAL = "federal"
    INTERNATIONAL = "international"


FEDERAL = "FED"
"""Code of the federal bucket: US law enforcement for reports whose state could not be determined."""
INTERNATIONAL = "INTL"
"""Code of the international bucket: reports located outside the United States."""


class AgencyKind(enum.StrEnum):
    """The kinds of agency the clearinghouse works with."""

    ICAC_TASK_FORCE = "icac_task_force"
    LOCAL_LAW_ENFORCEMENT = "local_law_enforcement"
    STATE_LAW_ENFORCEMENT = "state_law_enforcement"
    FEDERAL_LAW_ENFORCEMENT = "federal_law_enforcement"
    INTERNATIONAL_LAW_ENFORCEMENT = "international_law_enforcement"
    SOCIAL_SERVICES = "social_services"

    @property
    def is_law_enforcement(self) -> bool:
        """True for every kind but social services."""
        return self is not AgencyKind.SOCIAL_SERVICES


class Jurisdiction(Base):
    """A state, DC, a territory, or one of the federal and international buckets."""

    __tablename__ = "jurisdictions"

    code: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[JurisdictionKind] = mapped_column(sa.Enum(JurisdictionKind, native_enum=False, length=16))
    fips: Mapped[str | None] = mapped_column(sa.String(2), unique=True)


class Agency(IdMixin, CreatedMixin, Base):
    """A law-enforcement or social-service agency, attached to one jurisdiction."""

    __tablename__ = "agencies"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_code", "name", name="uq_agencies_jurisdiction_name"),)

    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[AgencyKind] = mapped_column(sa.Enum(AgencyKind, native_enum=False, length=40), index=True)
    jurisdiction_code: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
