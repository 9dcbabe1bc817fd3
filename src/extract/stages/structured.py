"""Which structured-output mode to ask an endpoint in (`model.response_format`).

`auto` walks the provider's ladder (strict `json_schema`, then `json_object` with a
`schema` field, then `json_object` with the schema in the instructions, then plain
text read leniently) and remembers the first mode the endpoint accepts, per base URL
and model, in the database. It moves down only on an answer that refuses the format
(`FormatRefused`, recognised by status and message), never on a transport fault.
Until a mode is known one call at a time is in flight, so finding out costs at most
one refused call per refused mode. An explicit mode is obeyed: its refusal is one
line that names the setting to change.
"""

from __future__ import annotations

import asyncio

from extract.errors import FormatRefused, TerminalModelError
from extract.providers import Capabilities
from extract.store import Database
from extract.store.endpoints import EndpointFormat, save_format, stored_format


def first_mode(setting: str, capabilities: Capabilities, stored: EndpointFormat | None) -> str:
    """The mode to ask in first: the offline baseline's, an explicit setting, what the
    database remembers of this endpoint and model, else the top of the ladder."""
    if capabilities.offline:
        return capabilities.modes[0]
    if setting != "auto":
        return setting
    return stored.mode if stored is not None and stored.mode in capabilities.modes else capabilities.modes[0]


class FormatChoice:
    def __init__(self, db: Database, endpoint: str, model: str, capabilities: Capabilities, setting: str) -> None:
        self.db = db
        self.endpoint = endpoint
        self.model = model
        self.setting = setting
        self.ladder = capabilities.modes
        self.fixed = setting != "auto" or len(self.ladder) == 1
        stored = stored_format(db, endpoint, model)
        self.mode = first_mode(setting, capabilities, stored)
        if stored is not None and stored.mode != self.mode:
            stored = None
        self.refused: list[dict[str, object]] = stored.refused if stored is not None and not self.fixed else []
        # An explicit mode is known to work once an answer came back in it: until then one
        # call at a time, so a refused setting costs one call, not one per chunk in flight.
        self.known = capabilities.offline or stored is not None
        self.stopped: TerminalModelError | None = None  # set once no mode is left to ask in
        self._probe: asyncio.Future[None] | None = None

    def describe(self) -> str:
        """The mode and how it was chosen, for the run summary."""
        if self.setting != "auto" or len(self.ladder) == 1:
            return self.mode if self.ladder != ("none",) else "none (offline baseline)"
        refused = ", ".join(f"{r['mode']} refused (HTTP {r['status']})" for r in self.refused)
        return f"{self.mode} (auto{': ' + refused if refused else ''})"

    def refresh(self) -> None:
        """Take up what another gateway of this process found out (the run's, for the judge)."""
        if not self.known:
            stored = stored_format(self.db, self.endpoint, self.model)
            if stored is not None and stored.mode in self.ladder:
                self.mode, self.refused, self.known = stored.mode, stored.refused, True

    async def settle(self) -> bool:
        """Wait until the mode is known or this caller is to find it out (True: it
        probes, and must call `accepted`, `refused` or `done` when its call ends)."""
        while not self.known:
            if self.stopped is not None:
                raise TerminalModelError(str(self.stopped))
            if self._probe is None:
                self._probe = asyncio.get_running_loop().create_future()
                return True
            await asyncio.shield(self._probe)
        return False

    def done(self) -> None:
        """The probing call ended without a verdict (a transport fault, a cache hit in
        batch mode): let the next caller probe."""
        if self._probe is not None:
            probe, self._probe = self._probe, None
            if not probe.done():
                probe.set_result(None)

    def _stop(self, message: str, exc: FormatRefused) -> None:
        """No mode is left: this caller and every one waiting stop with one line."""
        self.stopped = TerminalModelError(message)
        self.done()
        raise self.stopped from exc

    def accepted(self, mode: str) -> None:
        if mode == self.mode and not self.known:
            self.known = True
            save_format(self.db, self.endpoint, self.model, EndpointFormat(self.mode, self.refused))
        self.done()

    def refused_by(self, mode: str, exc: FormatRefused) -> None:
        """Step down the ladder after `mode` was refused (or stop, for an explicit mode)."""
        if self.fixed:
            self._stop(
                f'{exc}: this endpoint does not accept model.response_format = {mode!r}; set it to "auto"'
                " in the pipeline file (or to a mode the endpoint supports)",
                exc,
            )
        if mode != self.mode:
            return  # another call already stepped past it
        at = self.ladder.index(mode)
        if at + 1 >= len(self.ladder):
            self._stop(f"{exc}: the endpoint refused every structured-output mode", exc)
        self.refused = [*self.refused, {"mode": mode, "status": exc.status, "message": exc.detail}]
        self.mode = self.ladder[at + 1]
        self.known = False
