"""The public report form at /report: a plain HTML form (no JavaScript needed) that files a public report.

A person picks one of the eight incident types (each explained in plain words), says what happened and,
if they can, where; the answer is a confirmation page with the report's reference number. A field that
cannot be accepted re-renders the form with the person's answers kept and a message naming that field.
The report is built as a `ReportIntake`, like a platform's, so the pipeline locates and releases it the same
way: the child's state or ZIP code becomes the victim's address.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from clearinghouse.db.base import utcnow
from clearinghouse.geo.jurisdictions import US_JURISDICTIONS
from clearinghouse.tipline import intake
from clearinghouse.tipline.wire_schemas import (
    Address,
    Email,
    IncidentChannel,
    IncidentDetail,
    IncidentType,
    Party,
    Person,
    Phone,
    Reporter,
    ReportIntake,
)
from clearinghouse.validation import is_ascii_number
from clearinghouse.web.bodies import Form
from clearinghouse.web.deps import ContextDep, SessionDep, SmallFormDep
from clearinghouse.web.templating import templates

router = APIRouter(tags=["public report form"])


@dataclass(frozen=True, slots=True)
class IncidentChoice:
    """One incident type as the form offers it: a short plain label and a sentence of help."""

    value: str
    label: str
    help: str


INCIDENT_CHOICES: tuple[IncidentChoice, ...] = (
    IncidentChoice(
        IncidentType.CHILD_PORNOGRAPHY,
        "Sexual pictures or videos of a child",
        "Someone has, makes, shares or sells images or videos showing a child under 18 in a sexual way. "
        "Tell us where you saw them. Please do not download, copy or send us the pictures.",
    ),
    IncidentChoice(
        IncidentType.ONLINE_ENTICEMENT,
        "Someone online is pressuring a child",
        "A person uses a website, app or game to push a child towards sexual talk, sending sexual pictures or "
        "meeting up, or threatens to share pictures unless the child sends more or pays.",
    ),
    IncidentChoice(
        IncidentType.CHILD_SEX_TRAFFICKING,
        "A child is being sold or traded for sex",
        "A child is offered or advertised for sex, or made to do sexual things in exchange for money, food, "
        "a place to stay, drugs or anything else.",
    ),
    IncidentChoice(
        IncidentType.CHILD_SEXUAL_MOLESTATION,
        "A child was sexually abused in person",
        "Someone touched a child in a sexual way or made a child do sexual things, whether that person is a "
        "stranger, someone the child knows, or a relative.",
    ),
    IncidentChoice(
        IncidentType.UNSOLICITED_OBSCENE_MATERIAL,
        "Sexual material was sent to a child",
        "A child received sexual pictures, videos or messages they did not ask for.",
    ),
    IncidentChoice(
        IncidentType.CHILD_SEX_TOURISM,
        "Someone travels to abuse children",
        "A person travels, or is planning to travel, to another town or country to have sexual contact with "
        "children there.",
    ),
    IncidentChoice(
        IncidentType.MISLEADING_DOMAIN_NAME,
        "A website address that tricks children",
        "A web address made to look harmless, such as a misspelling of a children's site, that leads to "
        "sexual material.",
    ),
    IncidentChoice(
        IncidentType.MISLEADING_WORDS_OR_IMAGES,
        "Words or pictures online that lure children to sexual material",
        "Cartoon characters, game names or other child-friendly words or images used online to hide where a "
        "link or file really leads.",
    ),
)

FIELD_LABELS = {
    "incident_type": "What happened",
    "description": "Tell us about it",
    "incident_date": "When it happened",
    "url": "Web address",
    "platform": "App, game or website",
    "suspect_username": "The other person's user name or name",
    "child_age": "The child's age",
    "state": "State or territory",
    "zip_code": "ZIP code",
    "city": "City or town",
    "reporter_name": "Your name",
    "reporter_email": "Your email address",
    "reporter_phone": "Your phone number",
}
FIELDS = (*FIELD_LABELS, "danger")
MAX_TEXT = 200
MAX_DESCRIPTION = 5000
MAX_URL = 2000
MAX_LENGTHS = {name: MAX_URL if name == "url" else MAX_TEXT for name in FIELDS} | {"description": MAX_DESCRIPTION}
"""The longest answer each field takes, as the page tells the browser (`maxlength`)."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$", re.ASCII)  # digits 0 to 9 only: the ZIP directory knows no others
_PHONE = re.compile(r"^[0-9+()./\s-]{7,25}$")
STATES = sorted(((info.code, info.name) for info in US_JURISDICTIONS), key=lambda pair: pair[1])
_STATE_CODES = {code for code, _ in STATES}


class FormProblem(Exception):
    """One field the form cannot accept, named by its form field name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _text(values: dict[str, str], name: str, *, limit: int = MAX_TEXT) -> str | None:
    value = values.get(name, "").strip()
    if len(value) > limit:
        raise FormProblem(name, f"is too long: at most {limit} characters, please")
    if "\x00" in value:
        # No store keeps one (PostgreSQL refuses the write), and no keyboard types one: pasted or scripted.
        raise FormProblem(name, "holds a hidden character (NUL) that cannot be kept: please type it again")
    return value or None


def _incident_date(values: dict[str, str], today: dt.date) -> dt.date:
    text = values.get("incident_date", "").strip()
    if not text:
        raise FormProblem("incident_date", "is needed: your best guess of the date is fine")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise FormProblem("incident_date", "is not a date we can read: use the form YYYY-MM-DD") from None
    if day > today:
        raise FormProblem("incident_date", "is in the future: give the day it happened or the day you saw it")
    if day.year < 1900:
        raise FormProblem("incident_date", "is too long ago: check the year")
    return day


def _child_age(values: dict[str, str]) -> int | None:
    text = values.get("child_age", "").strip()
    if not text:
        return None
    if not is_ascii_number(text) or int(text) > 17:
        raise FormProblem("child_age", "must be a whole number from 0 to 17 (a child is under 18)")
    return int(text)


def _victims(values: dict[str, str]) -> list[Party]:
    age = _child_age(values)
    state = _text(values, "state")
    if state is not None and state not in _STATE_CODES:
        raise FormProblem("state", "is not one we know: choose one from the list")
    zip_code = _text(values, "zip_code")
    if zip_code is not None and not _ZIP.match(zip_code):
        raise FormProblem("zip_code", "must be five digits, like 27601")
    city = _text(values, "city")
    addresses = [Address(city=city, zip_code=zip_code, state=state, country="US")] if state or zip_code or city else []
    if age is None and not addresses:
        return []
    return [Party(person=Person(age=age, addresses=addresses))]


def _reporter(values: dict[str, str]) -> Reporter:
    email = _text(values, "reporter_email")
    if email is not None and not _EMAIL.match(email):
        raise FormProblem("reporter_email", "does not look like an email address (name@example.org)")
    phone = _text(values, "reporter_phone")
    if phone is not None and not _PHONE.match(phone):
        raise FormProblem("reporter_phone", "may hold only digits, spaces and + ( ) - .")
    person = Person(
        first_name=_text(values, "reporter_name"),
        emails=[Email(address=email)] if email else [],
        phones=[Phone(number=phone)] if phone else [],
    )
    return Reporter(reporting_person=person)


def intake_from_form(values: dict[str, str], *, today: dt.date) -> ReportIntake:
    """The report a filled-in form describes, or FormProblem naming the first field it cannot accept."""
    choice = values.get("incident_type", "")
    if choice not in {c.value for c in INCIDENT_CHOICES}:
        raise FormProblem("incident_type", "is needed: choose the one that fits best")
    description = _text(values, "description", limit=MAX_DESCRIPTION)
    if description is None or len(description) < 10:
        raise FormProblem("description", "is needed: a sentence or two in your own words")
    day = _incident_date(values, today)
    url = _text(values, "url", limit=MAX_URL)
    if url is not None and not re.match(r"^(https?://)?[^\s/]+\.[^\s]+$", url):
        raise FormProblem("url", "does not look like a web address (example.com/page)")
    platform = _text(values, "platform")
    suspect = _text(values, "suspect_username")
    details = [IncidentDetail(channel=IncidentChannel.WEB_PAGE, urls=[url])] if url else []
    try:
        return ReportIntake(
            incident_type=IncidentType(choice),
            # Noon UTC falls on the same calendar day in every US time zone.
            incident_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
            incident_time_description="Date given on the public report form",
            platform=platform,
            escalation_reason="The person reporting says a child is in danger now." if values.get("danger") else None,
            incident_details=details,
            reporter=_reporter(values),
            reported_persons=[Party(screen_name=suspect)] if suspect else [],
            victims=_victims(values),
            additional_info=description,
        )
    except ValidationError as error:  # pragma: no cover - every field is checked above
        raise FormProblem("description", f"could not be accepted ({error.error_count()} problems)") from None


def _page(
    request: Request,
    values: dict[str, str],
    problem: FormProblem | None = None,
    *,
    wait_seconds: int = 0,
    from_elsewhere: bool = False,
) -> Response:
    """The form with `values` filled in, naming the `problem` if any; or, with `wait_seconds`, saying that the
    report was held back by the flood guard and when to send it again (HTTP 429, with Retry-After); or, with
    `from_elsewhere`, that another site's page sent it (HTTP 403)."""
    context = {
        "choices": INCIDENT_CHOICES,
        "states": STATES,
        "values": {name: values.get(name, "") for name in FIELDS},
        "labels": FIELD_LABELS,
        "problem": problem,
        "wait_minutes": math.ceil(wait_seconds / 60),
        "today": utcnow().date().isoformat(),
        "from_elsewhere": from_elsewhere,
        "max_length": MAX_LENGTHS,
    }
    if wait_seconds:
        response = templates.TemplateResponse(request, "report_form.html", context, status_code=429)
        response.headers["Retry-After"] = str(wait_seconds)
        return response
    status = 403 if from_elsewhere else 200 if problem is None else 422
    return templates.TemplateResponse(request, "report_form.html", context, status_code=status)


@router.api_route("/report", methods=["GET", "HEAD"], response_class=HTMLResponse)
def report_form(request: Request) -> Response:
    """The empty form (HEAD as well: link checkers and monitors ask with it, and FastAPI adds it to no route)."""
    return _page(request, {})


@router.post("/report", response_class=HTMLResponse)
def file_report(request: Request, form: SmallFormDep, session: SessionDep, context: ContextDep) -> Response:
    """File the report and confirm it with its reference number, or show the form again naming the problem."""
    values = _values(form)
    # A page on another site can make its visitors' browsers post this form: reports that nobody meant, each
    # counted against the visitor's address rather than the sender's. Browsers say so in Sec-Fetch-Site; such a
    # post shows the person the form, filled in, on our own page, to send if it is theirs. (No cookie-bound
    # token: a tipline must take reports from browsers that keep no cookies, and clients other than browsers
    # send no such header.)
    if request.headers.get("sec-fetch-site") == "cross-site":
        return _page(request, values, from_elsewhere=True)
    throttle = context.public_throttle
    address = request.client.host if request.client is not None else "unknown"
    now = context.clock()
    # Nothing is stored past the limit; the person's answers come back in the form, to send again later. A flood
    # is refused from a read, before it takes a write turn; a report is counted with its own writes.
    if throttle is not None and (wait := throttle.seconds_until_allowed(session, address, now)):
        return _page(request, values, wait_seconds=wait)
    try:
        report_intake = intake_from_form(values, today=now.date())
    except FormProblem as problem:
        return _page(request, values, problem)
    with context.writing(session):
        wait = throttle.use(session, address, now) if throttle is not None else 0
        filed = None if wait else intake.file_public_report(session=session, intake=report_intake, at=now)
    if filed is None:
        return _page(request, values, wait_seconds=wait)
    page = {"reference": filed.report.id, "urgent": report_intake.escalated}
    return templates.TemplateResponse(request, "report_received.html", page, status_code=201)


def _values(form: Form) -> dict[str, str]:
    return {name: form.fields.get(name, "") for name in FIELDS}
