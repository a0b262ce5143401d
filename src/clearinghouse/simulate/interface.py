"""The simulation's clients of the served application: reports sent one call at a time, through the platform
interface (`/ispws`) as a platform's own client sends them and through the public report form, to the
application in this process. The calls go through its whole HTTP side (routing, Basic authentication, body
limits, schema validation, the answers) without a socket; the simulated time is the application's clock.

Three kinds of report come this way:
- reports a platform sends one at a time (`send_platform_reports`): opened with `submit` and `finish`ed;
- the public's reports (`send_public_reports`), through the public report form's `POST /report`, as a browser
  without JavaScript sends it;
- the year's drafts (`send_drafts`): reports a platform opened and never finished, some retracted, others (some
  with a file uploaded) left open until the expiry sweep marks them expired. None of them is ever counted.

The finished ones wait in the pipeline's queue, like any report that arrives one call at a time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
from collections.abc import Awaitable, Callable, Iterator

import httpx
from faker import Faker

from clearinghouse.access.service import get_or_create_platform, new_platform_secret
from clearinghouse.db.engine import Store
from clearinghouse.tipline.wire_schemas import IncidentType
from clearinghouse.web.app import create_app

DRAFTS = 12
"""Reports opened and never finished over the year."""
_XML = {"Content-Type": "text/xml; charset=utf-8"}
_REPORT = (
    '<?xml version="1.0" encoding="UTF-8"?><report><incidentSummary>'
    "<incidentType>{incident_type}</incidentType>"
    "<incidentDateTime>{incident_at}</incidentDateTime></incidentSummary>"
    "<reporter><reportingPerson><firstName>Trust</firstName><lastName>Safety</lastName>"
    "<email>trust-and-safety@example.com</email></reportingPerson></reporter>{victim}</report>"
)
_VICTIM_IN = (
    "<victim><victimPerson><address><state>{state}</state><country>US</country></address></victimPerson></victim>"
)
PUBLIC_INCIDENTS = (
    (IncidentType.ONLINE_ENTICEMENT, "Someone online keeps asking a child I know to send photos of themselves."),
    (IncidentType.CHILD_PORNOGRAPHY, "I came across sexual pictures of a child on a website."),
    (IncidentType.UNSOLICITED_OBSCENE_MATERIAL, "A stranger sent explicit pictures to a child in a game chat."),
    (IncidentType.CHILD_SEX_TRAFFICKING, "An online ad seems to be selling a teenager for sex."),
)
"""What members of the public report, with a description in their words (synthetic)."""


class InterfaceRefused(RuntimeError):
    """The platform interface answered a simulated call with an error."""


def _answer(response: httpx.Response, call: str) -> str:
    """The body of a successful answer (response code 0), or InterfaceRefused naming the call and the answer."""
    code = re.search(r"<responseCode>(\d+)</responseCode>", response.text)
    if response.status_code != 200 or code is None or code.group(1) != "0":
        raise InterfaceRefused(f"{call}: HTTP {response.status_code}: {response.text[:300]}")
    return response.text


def _report_id(answer: str) -> str:
    found = re.search(r"<reportId>(\d+)</reportId>", answer)
    if found is None:
        raise InterfaceRefused(f"no reportId in the answer: {answer[:300]}")
    return found.group(1)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(year: int, rng: random.Random) -> dt.datetime:
    """A moment of ``year`` well before its last day, so that processing (within an hour) ends in the year."""
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    return start + dt.timedelta(seconds=rng.randrange(0, 363 * 86400))


class ServedApplication:
    """The served application in this process, with the secret of the platform account the simulation sends as
    (given once: the simulation administers its own platforms). Its clock is the simulated time."""

    def __init__(self, store: Store, *, platform: str) -> None:
        with store.unit_of_work() as session:
            account = get_or_create_platform(session=session, name=platform)
            issued = new_platform_secret(session=session, name=account.name, actor="simulation")
        self.auth = (issued.username, issued.secret)
        # The simulated public are many people sending through one in-process connection: no flood guard.
        self.app = create_app(store, public_reports_per_hour=0)
        self.context = self.app.state.context

    def at(self, moment: dt.datetime) -> None:
        """Move the application's clock to ``moment``."""
        self.context.clock = lambda: moment

    def calls(self, send: Callable[[httpx.AsyncClient], Awaitable[int]], *, as_platform: bool = True) -> int:
        """Run ``send`` with a client of the application (authenticated as the platform, or as the public)."""

        async def drive() -> int:
            transport = httpx.ASGITransport(app=self.app)
            auth = self.auth if as_platform else None
            async with httpx.AsyncClient(transport=transport, base_url="http://simulation", auth=auth) as client:
                return await send(client)

        return asyncio.run(drive())


def _moments(
    served: ServedApplication, by_state: dict[str, int], year: int, rng: random.Random
) -> Iterator[tuple[str, dt.datetime]]:
    """``by_state[state]`` moments of ``year`` per state, in the order of the states; the application's clock is
    set to each before it is given."""
    for state, count in sorted(by_state.items()):
        for _ in range(count):
            moment = _moment(year, rng)
            served.at(moment)
            yield state, moment


def send_platform_reports(served: ServedApplication, *, by_state: dict[str, int], rng: random.Random, year: int) -> int:
    """Send ``by_state[state]`` reports located in each state (the victim's address) through the platform
    interface, each opened and finished at once; returns how many."""

    async def send(client: httpx.AsyncClient) -> int:
        sent = 0
        for state, opened in _moments(served, by_state, year, rng):
            document = _REPORT.format(
                incident_type=rng.choice(list(IncidentType)).value,
                incident_at=_stamp(opened - dt.timedelta(hours=rng.randrange(1, 48))),
                victim=_VICTIM_IN.format(state=state),
            )
            submitted = await client.post("/ispws/submit", content=document.encode(), headers=_XML)
            report_id = _report_id(_answer(submitted, "submit"))
            served.at(opened + dt.timedelta(seconds=rng.randrange(5, 120)))
            _answer(await client.post("/ispws/finish", data={"id": report_id}), "finish")
            sent += 1
        return sent

    return served.calls(send)


def send_public_reports(
    served: ServedApplication, *, by_state: dict[str, int], rng: random.Random, fake: Faker, year: int
) -> int:
    """Send ``by_state[state]`` reports through the public report form, each naming a child in that state;
    returns how many."""

    async def send(client: httpx.AsyncClient) -> int:
        sent = 0
        for state, received in _moments(served, by_state, year, rng):
            incident_type, description = rng.choice(PUBLIC_INCIDENTS)
            seen = max(received.date() - dt.timedelta(days=rng.randrange(0, 10)), dt.date(year, 1, 1))
            form = {
                "incident_type": incident_type.value,
                "description": description,
                "incident_date": seen.isoformat(),
                "state": state,
                "child_age": str(rng.randrange(8, 18)),
                "reporter_name": fake.first_name(),
                "reporter_email": fake.safe_email(),
            }
            answer = await client.post("/report", data=form)
            if answer.status_code != 201:
                raise InterfaceRefused(f"public form: HTTP {answer.status_code}: {answer.text[:300]}")
            sent += 1
        return sent

    return served.calls(send, as_platform=False)


def send_drafts(served: ServedApplication, *, year: int, rng: random.Random) -> int:
    """Open `DRAFTS` reports through the platform interface at moments of ``year``: a third retracted five minutes
    later, a third given a file (harmless random bytes, hashed and dropped by the interface), the rest left
    open. Returns how many were opened."""

    async def send(client: httpx.AsyncClient) -> int:
        for index in range(DRAFTS):
            opened = dt.datetime(year, rng.randrange(1, 12), rng.randrange(1, 28), tzinfo=dt.UTC)
            served.at(opened)
            document = _REPORT.format(
                incident_type=IncidentType.CHILD_PORNOGRAPHY.value,
                incident_at=_stamp(opened - dt.timedelta(hours=6)),
                victim="",
            )
            submitted = await client.post("/ispws/submit", content=document.encode(), headers=_XML)
            report_id = _report_id(_answer(submitted, "submit"))
            served.at(opened + dt.timedelta(minutes=5))
            if index % 3 == 0:
                _answer(await client.post("/ispws/retract", data={"id": report_id}), "retract")
            elif index % 3 == 1:
                files = {"file": ("draft.bin", rng.randbytes(2048), "application/octet-stream")}
                _answer(await client.post("/ispws/upload", data={"id": report_id}, files=files), "upload")
        return DRAFTS

    return served.calls(send)
