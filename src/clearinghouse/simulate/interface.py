"""The simulation's platform client: reports opened one call at a time through the platform interface (`/ispws`),
as a platform's own client sends them, over the served application in this process. The calls go through the
application's whole HTTP side (routing, Basic authentication, body limits, schema validation, the XML answers)
without a socket; the simulated time is the application's clock.

The year's drafts come this way: reports a platform opened and never finished, some retracted, others (some with
a file uploaded) left open until the expiry sweep marks them expired. None of them is ever counted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
from collections.abc import Callable

import httpx

from clearinghouse.access.service import get_or_create_platform, new_platform_secret
from clearinghouse.db.engine import Store
from clearinghouse.web.app import create_app

DRAFTS = 12
"""Reports opened and never finished over the year."""
_XML = {"Content-Type": "text/xml; charset=utf-8"}
_REPORT = (
    '<?xml version="1.0" encoding="UTF-8"?><report><incidentSummary>'
    "<incidentType>Child Pornography (possession, manufacture, and distribution)</incidentType>"
    "<incidentDateTime>{incident_at}</incidentDateTime></incidentSummary>"
    "<reporter><reportingPerson><firstName>Trust</firstName><lastName>Safety</lastName>"
    "<email>trust-and-safety@example.com</email></reportingPerson></reporter></report>"
)


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


def send_drafts(store: Store, *, platform: str, year: int, rng: random.Random) -> int:
    """Open `DRAFTS` reports through the platform interface as ``platform`` at moments of ``year``: a third
    retracted five minutes later, a third given a file (harmless random bytes, hashed and dropped by the
    interface), the rest left open. Returns how many were opened."""
    with store.unit_of_work() as session:
        account = get_or_create_platform(session=session, name=platform)
        # The simulation administers its own platforms: it gives this one a secret it knows.
        issued = new_platform_secret(session=session, name=account.name, actor="simulation")
    app = create_app(store)
    context = app.state.context

    def at(moment: dt.datetime) -> Callable[[], dt.datetime]:
        return lambda: moment

    async def drive() -> int:
        transport = httpx.ASGITransport(app=app)
        auth = (issued.username, issued.secret)
        async with httpx.AsyncClient(transport=transport, base_url="http://simulation", auth=auth) as client:
            for index in range(DRAFTS):
                opened = dt.datetime(year, rng.randrange(1, 12), rng.randrange(1, 28), tzinfo=dt.UTC)
                context.clock = at(opened)
                document = _REPORT.format(incident_at=(opened - dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ"))
                submitted = await client.post("/ispws/submit", content=document.encode(), headers=_XML)
                report_id = _report_id(_answer(submitted, "submit"))
                context.clock = at(opened + dt.timedelta(minutes=5))
                if index % 3 == 0:
                    _answer(await client.post("/ispws/retract", data={"id": report_id}), "retract")
                elif index % 3 == 1:
                    content = rng.randbytes(2048)
                    files = {"file": ("draft.bin", content, "application/octet-stream")}
                    _answer(await client.post("/ispws/upload", data={"id": report_id}, files=files), "upload")
        return DRAFTS

    return asyncio.run(drive())
