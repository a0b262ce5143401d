"""Tables of the people supported, their peer-support contacts and their mental-health referrals."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, CreatedMixin, IdMixin, UTCDateTime


class RecipientKind(enum.StrEnum):
    """A survivor (once a missing or exploited child) or a family of such a child."""

    SURVIVOR = "survivor"
    FAMILY = "family"


class ContactChannel(enum.StrEnum):
    """How a peer reached the person."""

    PHONE = "phone"
    VIDEO = "video"
    IN_PERSON = "in_person"
    MESSAGE = "message"


class ReferralStatus(enum.StrEnum):
    """Referred, then connected to a professional (counted), or declined/withdrawn (not counted)."""

    REFERRED = "referred"
    CONNECTED = "connected"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class Recipient(IdMixin, CreatedMixin, Base):
    """A survivor or a family the clearinghouse supports; counted once however often contacted."""

    __tablename__ = "support_recipients"

    kind: Mapped[RecipientKind] = mapped_column(sa.Enum(RecipientKind, native_enum=False, length=10))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    state_code: Mapped[str] = mapped_column(sa.ForeignKey("jurisdictions.code"), index=True)
    missing_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("missing_cases.id"))


class PeerSupportContact(IdMixin, CreatedMixin, Base):
    """One contact between a peer-support volunteer and a survivor or family."""

    __tablename__ = "peer_support_contacts"
    __table_args__ = (sa.Index("ix_peer_support_contacts_contact_at", "contact_at"),)

    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("support_recipients.id"), index=True)
    volunteer_name: Mapped[str] = mapped_column(sa.String(200))
    channel: Mapped[ContactChannel] = mapped_column(sa.Enum(ContactChannel, native_enum=False, length=10))
    contact_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    minutes: Mapped[int] = mapped_column(default=0)


class MentalHealthReferral(IdMixin, CreatedMixin, Base):
    """A referral to a mental-health professional; it counts once the person is connected."""

    __tablename__ = "mental_health_referrals"
    __table_args__ = (sa.Index("ix_mental_health_referrals_connected_at", "connected_at"),)

    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("support_recipients.id"), index=True)
    provider_name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[ReferralStatus] = mapped_column(
        sa.Enum(ReferralStatus, native_enum=False, length=10), default=ReferralStatus.REFERRED
    )
    referred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    connected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
