"""Coverage figures per region: households, boxes installed and active, coverage, usage, callbacks.

Every figure is aggregated per village with one GROUP BY, then rolled up in Python through the
region tree (village → township → banner → city). A village's households are its imported total
(`village_households`), raised to the households the registry knows when that is lower — the
larger of its household records and the distinct non-empty `devices.household_label` of its
registered boxes — so coverage never exceeds 100 %; such a village is flagged (`short_villages`,
`short_households`) for staff to fix the import. A household is covered when one of its installed
boxes was seen in the last 7 days.

The default period's figures are shared per database (`all_figures`) and the latest are kept in
`coverage_latest`, so a restarted server answers at once from them (marked stale, with their time)
while it computes new ones. Computations run one at a time and are shared by everyone asking for
the same period meanwhile (single-flight); `computations(db)` counts them. The programs' video
starts and completions per region (the coverage API's `video_starts`, `completions`) are computed,
kept and served with the rest, so a request never reads the viewing records themselves (at a
province's scale, hundreds of thousands a month).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import weakref
from dataclasses import asdict, dataclass, field, fields

from device_registry import activity
from device_registry import waves as waves_mod
from device_registry.regions import Region, RegionTree
from device_registry.states import INSTALLED_STATES, UNREGISTERED_STATES
from storage import Database, DomainError, LimitReached, NotFound, clock

DAY = 86400.0
DEFAULT_PERIOD_DAYS = 30
FIGURES = (
    "households",
    "equipped",
    "installed",
    "active7",
    "active30",
    "covered",
    "launches",
    "views",
    "callbacks",
    "short_villages",
    "short_households",
)
WATCHING = ("video_starts", "completions")  # in the coverage API, not the dashboard's tables


@dataclass
class Figures:
    households: int = 0  # imported total, or what the registry knows when that is more
    equipped: int = 0  # households with an installed box
    installed: int = 0
    active7: int = 0
    active30: int = 0
    covered: int = 0  # households with a box seen in the last 7 days
    launches: int = 0
    views: int = 0
    callbacks: int = 0
    short_villages: int = 0  # villages whose imported total is below what the registry knows
    short_households: int = 0  # by how many households those totals fall short, together
    video_starts: int = 0  # programs' videos started by boxes in the period (box × program)
    completions: int = 0  # those watched to 90 % or further

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def coverage(self) -> float | None:
        return self.covered / self.households if self.households else None

    @property
    def imported(self) -> int:
        """A flagged village's imported total (its households less the shortfall)."""
        return self.households - self.short_households

    def as_dict(self) -> dict:
        """The registry's figures and the coverage (the watching figures are `watching()`)."""
        out = asdict(self)
        for name in WATCHING:
            del out[name]
        out["coverage"] = None if self.coverage is None else round(self.coverage, 4)
        return out


@dataclass(frozen=True)
class Period:
    since: float
    until: float


def default_period(now: float) -> Period:
    return Period(now - DEFAULT_PERIOD_DAYS * DAY, now)


def day_of(ts: float) -> str:
    return clock.date(ts)


def day_start(day: dt.date) -> float:
    return clock.at(day)


_IN = ",".join("?" * len(INSTALLED_STATES))


def _count(condition: str) -> str:
    """SUM of a condition as CASE: the same on both backends, and on PostgreSQL ten times faster
    than SUM(boolean) (an SQL-language aggregate there, called once per row: at 5 million boxes
    the difference between seconds and minutes)."""
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


# Per household first (one pass over the covering index devices_coverage), then per village.
_HOUSEHOLD = "h != ''"
_INSTALLED = f"state IN ({_IN})"
_VILLAGE_SQL = (
    f"SELECT village_code, {_count(_HOUSEHOLD)}, {_count(_HOUSEHOLD + ' AND inst > 0')},"
    f" SUM(inst), SUM(a7), SUM(a30), {_count(_HOUSEHOLD + ' AND a7 > 0')} FROM ("
    " SELECT village_code, household_label AS h,"
    f" {_count(_INSTALLED)} AS inst,"
    f" {_count(_INSTALLED + ' AND COALESCE(last_seen, 0) >= ?')} AS a7,"
    f" {_count(_INSTALLED + ' AND COALESCE(last_seen, 0) >= ?')} AS a30"
    " FROM devices WHERE village_code IS NOT NULL AND state NOT IN (?, ?)"
    " GROUP BY village_code, household_label) AS per_household"
    " GROUP BY village_code"
)

# Programs' videos started in the period, per village: one row per box and program
# (content.programs.video keeps them), a completion when watched to 90 % or further.
_WATCHED_SQL = (
    "SELECT d.village_code, COUNT(*),"
    " SUM(CASE WHEN p.furthest * 10 >= p.duration * 9 THEN 1 ELSE 0 END)"
    " FROM video_positions p JOIN devices d ON d.id = p.device_id"
    " WHERE p.duration > 0 AND p.started_at >= ? AND p.started_at < ?"
    " AND d.village_code IS NOT NULL GROUP BY d.village_code"
)


async def village_figures(db: Database, now: float, period: Period) -> dict[str, Figures]:
    """Figures of every village that has boxes, household records or a total, by village code."""
    week, month = activity.active_since(now), now - 30 * DAY
    s = INSTALLED_STATES
    params = (*s, *s, week, *s, month, *UNREGISTERED_STATES)
    out: dict[str, Figures] = {}
    for code, hh, equipped, installed, a7, a30, covered in await db.fetchall(_VILLAGE_SQL, params):
        out[code] = Figures(hh, equipped, installed, a7, a30, covered)
    for code, launches, views in await db.fetchall(
        "SELECT d.village_code, SUM(CASE WHEN e.kind = 'launch' THEN e.n ELSE 0 END),"
        " SUM(CASE WHEN e.kind = 'view' THEN e.n ELSE 0 END)"
        " FROM usage_events e JOIN devices d ON d.id = e.device_id"
        " WHERE e.at >= ? AND e.at < ? AND d.village_code IS NOT NULL GROUP BY d.village_code",
        (period.since, period.until),
    ):
        f = out.setdefault(code, Figures())
        f.launches, f.views = launches or 0, views or 0
    for code, count in await db.fetchall(
        "SELECT d.village_code, COUNT(*) FROM callback_requests c"
        " JOIN devices d ON d.id = c.device_id"
        " WHERE c.created_at >= ? AND c.created_at < ? AND d.village_code IS NOT NULL"
        " GROUP BY d.village_code",
        (period.since, period.until),
    ):
        out.setdefault(code, Figures()).callbacks = count
    for code, starts, completions in await db.fetchall(_WATCHED_SQL, (period.since, period.until)):
        f = out.setdefault(code, Figures())
        f.video_starts, f.completions = starts, completions or 0
    tables = set(await db.tables())
    records: dict[str, int] = {}
    if "households" in tables:
        records = dict(
            await db.fetchall("SELECT village_code, COUNT(*) FROM households GROUP BY village_code")
        )
    imported: dict[str, int] = {}
    if "village_households" in tables:
        imported = dict(
            await db.fetchall("SELECT village_code, households FROM village_households")
        )
    for code in records.keys() | imported.keys():
        out.setdefault(code, Figures())
    for code, f in out.items():
        # What the registry knows: its household records, or the households on registered boxes
        # (every covered or equipped household is one of those), whichever is more.
        known = max(f.households, records.get(code, 0))
        total = imported.get(code)
        f.households = known if total is None else max(total, known)
        if total is not None and total < known:
            f.short_villages, f.short_households = 1, known - total
    return out


def roll_up(tree: RegionTree, villages: dict[str, Figures]) -> dict[str, Figures]:
    """Figures of every region of the tree: a region's are the sum of its villages'."""
    totals: dict[str, Figures] = {code: Figures() for code in tree.by_code}
    for code, figures in villages.items():
        for region in tree.chain(code):
            totals[region.code].add(figures)
    return totals


@dataclass(frozen=True)
class Computed:
    figures: dict[str, Figures]  # every region's, villages included
    period: Period
    at: float  # wall-clock time of the computation: the figures are "as of" then
    stale: bool = False  # read back from coverage_latest at start, served until recomputed


async def _compute(db: Database, tree: RegionTree, now: float, period: Period) -> Computed:
    _of(db).computations += 1
    return Computed(roll_up(tree, await village_figures(db, now, period)), period, now)


# -- figures shared per database -------------------------------------------------------------

FRESH_SECONDS = 10.0  # a "refresh now" reuses figures whose computation began this recently
BUSY_RETRY_SECONDS = 5.0  # what to tell a viewer whose own computation still runs
# Retry-After of a viewer told the figures are still being computed (after waiting the setting
# coverage_first_wait_seconds for figures not there yet: see all_figures' `wait`).
COMPUTING_RETRY_SECONDS = 15.0


class Computing(DomainError):
    """No figures to answer with yet: their computation runs in the background (a first start)."""

    code = "figures_computing"
    status = 503


@dataclass(frozen=True)
class _Entry:
    started: float  # time.monotonic() when its computation began
    generation: int  # forget() count then: an entry of an older generation is never served
    result: Computed
    loaded: bool = False  # read back from coverage_latest, not computed by this process


@dataclass(eq=False)
class _Flight:
    """One computation of a period's figures, awaited by everyone who asks meanwhile."""

    task: asyncio.Task | None = None
    viewer: str | None = None
    generation: int | None = None  # set when the computation begins (it waits for the lock)


@dataclass
class _Shared:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one computation at a time
    generation: int = 0
    entries: dict = field(default_factory=dict)  # period key (None: default period) → _Entry
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set by forget()
    flights: dict = field(default_factory=dict)  # period key → the _Flight others may join
    viewers: dict = field(default_factory=dict)  # viewer → computations it started, running
    computations: int = 0  # whole-registry computations run (see `computations`)
    forgot_at: float = 0.0  # wall-clock time of the last forget()


_shared: weakref.WeakKeyDictionary[Database, _Shared] = weakref.WeakKeyDictionary()


def _of(db: Database) -> _Shared:
    shared = _shared.get(db)
    if shared is None:
        shared = _shared[db] = _Shared()
    return shared


def computations(db: Database) -> int:
    """How many times this process computed figures over the whole registry of `db`."""
    return _of(db).computations


def in_flight(db: Database) -> int:
    """Computations of `db`'s figures queued or running that a request may still join."""
    return len(_of(db).flights)


def _reusable(hit: _Entry | None, shared: _Shared, age_limit: float, renew: bool) -> bool:
    if hit is None or hit.generation != shared.generation:
        return False
    if renew:  # asked for figures computed now: the kept ones of a past run never do
        return not hit.loaded and time.monotonic() - hit.started < age_limit
    return hit.loaded or time.monotonic() - hit.started < age_limit


async def _fly(
    db: Database, tree: RegionTree, now: float, period: Period | None, key, flight: _Flight
) -> Computed:
    shared = _of(db)
    try:
        async with shared.lock:
            flight.generation, started = shared.generation, time.monotonic()
            result = await _compute(db, tree, now, period or default_period(now))
            if flight.generation == shared.generation:  # not overtaken by a forget() meanwhile
                if len(shared.entries) > 32:
                    shared.entries.clear()
                shared.entries[key] = _Entry(started, flight.generation, result)
            return result
    finally:
        if shared.flights.get(key) is flight:
            del shared.flights[key]
        if flight.viewer is not None:
            left = shared.viewers.pop(flight.viewer, 1) - 1
            if left > 0:
                shared.viewers[flight.viewer] = left


def _retrieved(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # awaited by the callers; read here so nothing is logged twice


async def all_figures(
    db: Database,
    tree: RegionTree,
    now: float | None = None,
    period: Period | None = None,
    *,
    cache_seconds: float = 0.0,
    store: bool = False,
    fresh: bool = False,
    viewer: str | None = None,
    wait: float | None = None,
) -> Computed:
    """Rolled-up figures of every region.

    Without cache_seconds, store or fresh they are computed afresh. Otherwise results are shared
    per period: one whose computation began less than cache_seconds ago is reused; older figures
    of the default period (not dropped by `forget`) are still answered at once while a newer
    computation runs, started then if none is running (the server's
    background task recomputes the default period — the last 30 days — every minute, so the
    dashboard and the API answer from memory); figures read back from `coverage_latest` at start
    (`load_latest`) are served, marked stale, until the first computation replaces them. `store`
    (the background task) computes anew unless a computation began within cache_seconds; `fresh`
    (a viewer's "refresh now") unless one began within FRESH_SECONDS.

    Computations are single-flight: one at a time for the database, and whoever asks for a
    period whose computation is queued or running waits for it and shares its result. The
    figures cover the whole tree, so one computation serves every region and scope. A `viewer`
    (a staff account, an API key) whose own computation is still queued or running cannot start
    another: LimitReached('computation_running'); joining one is always allowed. With `wait`, a
    caller who would wait longer than that many seconds for a computation is answered
    Computing('figures_computing') instead (the computation goes on: a later request joins it
    or reads its result).
    """
    now = time.time() if now is None else now
    if cache_seconds <= 0 and not store and not fresh:
        return await _compute(db, tree, now, period or default_period(now))
    key = None if period is None else (int(period.since // 60), int(period.until // 60))
    shared = _of(db)
    hit = shared.entries.get(key)
    age_limit = FRESH_SECONDS if fresh and not store else cache_seconds
    if _reusable(hit, shared, age_limit, store or fresh):
        return hit.result
    # The default period's figures, older than cache_seconds but not dropped by a forget():
    # answered at once while newer ones are computed (at a province's scale a computation takes
    # a minute; no request waits for it), as `as_of` says.
    revalidate = (
        key is None
        and not (store or fresh)
        and hit is not None
        and hit.generation == shared.generation
    )
    owner = None if revalidate else viewer
    flight = shared.flights.get(key)
    if flight is None or flight.generation not in (None, shared.generation):
        # None: still waiting for the lock, so it will read what a forget() announced.
        if owner is not None and shared.viewers.get(owner):
            raise LimitReached("computation_running", owner)
        flight = _Flight(viewer=owner)
        if owner is not None:
            shared.viewers[owner] = shared.viewers.get(owner, 0) + 1
        flight.task = asyncio.ensure_future(_fly(db, tree, now, period, key, flight))
        flight.task.add_done_callback(_retrieved)
        shared.flights[key] = flight
    if revalidate:
        return hit.result
    # Shielded: a caller that goes away does not cancel the computation the others wait for.
    if wait is None:
        return await asyncio.shield(flight.task)
    try:
        async with asyncio.timeout(wait):
            return await asyncio.shield(flight.task)
    except TimeoutError:
        raise Computing(detail="the figures are being computed") from None


def forget(db: Database) -> None:
    """Drop the shared figures after a change staff want to see at once: the next request
    computes afresh, and the server's background task is woken to do it now."""
    shared = _of(db)
    shared.generation += 1
    shared.forgot_at = time.time()
    shared.entries.clear()
    shared.changed.set()


async def wait_for_change(db: Database, seconds: float) -> bool:
    """Wait up to `seconds` for a forget(); return whether one came."""
    shared = _of(db)
    try:
        async with asyncio.timeout(seconds):
            await shared.changed.wait()
    except TimeoutError:
        return False
    shared.changed.clear()
    return True


# -- the latest figures, kept across restarts ------------------------------------------------

_NAMES = [f.name for f in fields(Figures)]
_LATEST_COLUMNS = ", ".join(_NAMES)


async def keep_latest(db: Database, tree: RegionTree, done: Computed) -> bool:
    """Store computed default-period figures in coverage_latest, one row per village, unless newer
    ones are there (the server's background task does this after each refresh, off the request
    path); return whether they were stored."""
    if done.stale:
        return False
    marks = ", ".join("?" * (len(_NAMES) + 4))
    rows = [
        (code, *(getattr(done.figures[code], n) for n in _NAMES))
        + (done.period.since, done.period.until, done.at)
        for code, region in tree.by_code.items()
        if region.level == "village"
    ]
    async with db.transaction() as tx:
        newest = await tx.fetchone("SELECT MAX(computed_at) FROM coverage_latest")
        if newest[0] is not None and newest[0] >= done.at:
            return False
        await tx.execute("DELETE FROM coverage_latest")
        await tx.executemany(
            f"INSERT INTO coverage_latest (village_code, {_LATEST_COLUMNS}, since, until,"
            f" computed_at) VALUES ({marks})",
            rows,
        )
    return True


async def _read_latest(db: Database, tree: RegionTree, *, stale: bool) -> Computed | None:
    rows = await db.fetchall(
        f"SELECT village_code, {_LATEST_COLUMNS}, since, until, computed_at FROM coverage_latest"
    )
    if not rows:
        return None
    count = len(_NAMES)
    villages = {r[0]: Figures(*r[1 : count + 1]) for r in rows}
    since, until, at = rows[0][count + 1 : count + 4]
    return Computed(roll_up(tree, villages), Period(since, until), at, stale=stale)


def _hold(shared: _Shared, result: Computed) -> None:
    age = max(0.0, time.time() - result.at)
    shared.entries[None] = _Entry(time.monotonic() - age, shared.generation, result, True)


async def load_latest(db: Database, tree: RegionTree) -> Computed | None:
    """Serve the figures kept by the last computation (marked stale) until new ones are computed;
    None when there are none."""
    result = await _read_latest(db, tree, stale=True)
    if result is None:
        return None
    shared = _of(db)
    if None not in shared.entries:
        _hold(shared, result)
    return shared.entries[None].result


async def follow_latest(db: Database, tree: RegionTree) -> bool:
    """On a node that does not compute the figures itself (another node leads, docs/scaling.md):
    take the default period's figures the leader kept in coverage_latest when they are newer than
    the ones held (and, after a forget(), computed after it); return whether they were taken."""
    shared = _of(db)
    newest = await db.fetchval("SELECT MAX(computed_at) FROM coverage_latest")
    held = shared.entries.get(None)
    valid = held is not None and held.generation == shared.generation
    if newest is None or (valid and held.result.at >= newest) or newest < shared.forgot_at:
        return False
    generation = shared.generation
    result = await _read_latest(db, tree, stale=False)
    if result is None or generation != shared.generation:
        return False
    _hold(shared, result)
    return True


@dataclass
class Report:
    region: Region
    totals: Figures
    rows: list[tuple[Region, Figures]]
    period: Period
    computed_at: float
    stale: bool = False


async def report(
    db: Database,
    tree: RegionTree,
    region_code: str,
    now: float | None = None,
    period: Period | None = None,
    *,
    cache_seconds: float = 0.0,
    fresh: bool = False,
    viewer: str | None = None,
    wait: float | None = None,
) -> Report:
    """A region's figures and those of each of its children (`all_figures` says how they are
    shared, and what `fresh`, `viewer` and `wait` do)."""
    region = tree.get(region_code)
    if region is None:
        raise NotFound("region_not_found", region_code)
    done = await all_figures(
        db, tree, now, period, cache_seconds=cache_seconds, fresh=fresh, viewer=viewer, wait=wait
    )
    figures = done.figures
    rows = [(kid, figures[kid.code]) for kid in tree.kids(region.code)]
    return Report(region, figures[region.code], rows, done.period, done.at, done.stale)


def as_json(rep: Report) -> dict:
    def figures(f: Figures) -> dict:
        return f.as_dict() | {name: getattr(f, name) for name in WATCHING}

    return {
        "region": {"code": rep.region.code, "name": rep.region.name, "level": rep.region.level},
        "period": {"since": rep.period.since, "until": rep.period.until},
        "as_of": clock.iso(rep.computed_at),
        "stale": rep.stale,
        "totals": figures(rep.totals),
        "children": [
            {"code": r.code, "name": r.name, "level": r.level, **figures(f)} for r, f in rep.rows
        ],
    }


# -- daily snapshots -------------------------------------------------------------------------


async def take_snapshot(
    db: Database, tree: RegionTree, now: float | None = None, *, max_age: float = 0.0
) -> int:
    """Store today's figures of every region (replacing an earlier snapshot of the same day),
    computed afresh or, with max_age, reused when their computation began that recently."""
    now = time.time() if now is None else now
    figures = (await all_figures(db, tree, now, cache_seconds=max_age, store=True)).figures
    day = day_of(now)
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO coverage_snapshots (day, region_code, households, installed, active7,"
            " active30, covered, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (region_code, day) DO UPDATE SET households = excluded.households,"
            " installed = excluded.installed, active7 = excluded.active7,"
            " active30 = excluded.active30, covered = excluded.covered,"
            " taken_at = excluded.taken_at",
            [
                (day, code, f.households, f.installed, f.active7, f.active30, f.covered, now)
                for code, f in figures.items()
            ],
        )
    return len(figures)


async def has_snapshot(db: Database, tree: RegionTree, day: str) -> bool:
    root = tree.roots[0].code if tree.roots else ""
    return bool(
        await db.fetchone(
            "SELECT 1 FROM coverage_snapshots WHERE region_code = ? AND day = ?", (root, day)
        )
    )


async def trend(db: Database, region_code: str, days: int = 60) -> list[dict]:
    """The region's snapshots, oldest first (at most `days` of them)."""
    rows = await db.fetchall(
        "SELECT day, households, installed, active7, active30, covered FROM coverage_snapshots"
        " WHERE region_code = ? ORDER BY day DESC LIMIT ?",
        (region_code, days),
    )
    return [
        {
            "day": r[0],
            "households": r[1],
            "installed": r[2],
            "active7": r[3],
            "active30": r[4],
            "covered": r[5],
            "coverage": round(r[5] / r[1], 4) if r[1] else None,
        }
        for r in reversed(rows)
    ]


# -- planning aid ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    village: Region
    households: int
    equipped: int
    installed: int
    active7: int
    nearness: int  # 2: same township as a covered village, 1: same banner, 0: neither
    score: int

    @property
    def share(self) -> float | None:
        return self.equipped / self.households if self.households else None


def covered_villages(tree: RegionTree, wave_list: list[waves_mod.Wave]) -> set[str]:
    """Villages reached by a wave that has started (started, paused or completed)."""
    out: set[str] = set()
    for wave in wave_list:
        if wave.status != "planned":
            out |= waves_mod.wave_villages(wave, tree)
    return out


def _ancestor(tree: RegionTree, code: str, level: str) -> str | None:
    return next((r.code for r in tree.chain(code) if r.level == level), None)


async def readiness(
    db: Database,
    tree: RegionTree,
    scope_code: str | None = None,
    now: float | None = None,
    *,
    cache_seconds: float = 0.0,
) -> list[Readiness]:
    """Villages not yet covered, best candidates first.

    score = share of households with an installed box (0-100) + 20 per nearness step
    + active boxes (capped at 30).
    """
    now = time.time() if now is None else now
    figures = (await all_figures(db, tree, now, cache_seconds=cache_seconds)).figures
    covered = covered_villages(tree, await waves_mod.list_waves(db))
    near_township = {_ancestor(tree, v, "township") for v in covered}
    near_county = {_ancestor(tree, v, "county") for v in covered}
    out = []
    for code, region in tree.by_code.items():
        if region.level != "village" or code in covered:
            continue
        if scope_code and scope_code not in {r.code for r in tree.chain(code)}:
            continue
        f = figures[code]
        if _ancestor(tree, code, "township") in near_township:
            nearness = 2
        elif _ancestor(tree, code, "county") in near_county:
            nearness = 1
        else:
            nearness = 0
        share = f.equipped / f.households if f.households else 0.0
        score = round(100 * share) + 20 * nearness + min(f.active7, 30)
        out.append(
            Readiness(region, f.households, f.equipped, f.installed, f.active7, nearness, score)
        )
    out.sort(key=lambda r: (-r.score, r.village.code))
    return out


async def propose_wave(
    db: Database,
    tree: RegionTree,
    name: str,
    top: int,
    scope_code: str | None = None,
    now: float | None = None,
) -> waves_mod.Wave:
    """A planned expansion wave over the `top` best-ranked villages, for staff to edit."""
    ranked = [r for r in await readiness(db, tree, scope_code, now) if r.households][:top]
    if not ranked:
        raise NotFound("no_candidate_villages", "")
    data = waves_mod.WaveInput(
        name=name,
        kind="expansion",
        regions=tuple(r.village.code for r in ranked),
        target_boxes=sum(r.installed for r in ranked),
    )
    return await waves_mod.create_wave(db, data, tree, now)


# -- one box's timeline ----------------------------------------------------------------------


async def box_timeline(db: Database, serial: str) -> dict:
    """What happened to one box: registry dates, first launch, views, callbacks."""
    row = await db.fetchone("SELECT * FROM devices WHERE serial = ?", (serial,))
    if row is None:
        raise NotFound("device_not_found", serial)
    row = dict(zip(row.keys(), tuple(row), strict=True))  # columns vary with the registry's
    device_id = row["id"]
    usage = await db.fetchone(
        "SELECT MIN(CASE WHEN kind = 'launch' THEN at END),"
        " SUM(CASE WHEN kind = 'view' THEN n ELSE 0 END),"
        " SUM(CASE WHEN kind = 'launch' THEN n ELSE 0 END) FROM usage_events WHERE device_id = ?",
        (device_id,),
    )
    calls = await db.fetchall(
        "SELECT ref, service, status, created_at FROM callback_requests WHERE device_id = ?"
        " ORDER BY created_at",
        (device_id,),
    )
    return {
        "id": device_id,
        "serial": row["serial"],
        "state": row["state"],
        "village_code": row["village_code"],
        "household_label": row["household_label"],
        "installed_at": row.get("installed_at"),
        "activated_at": row.get("activated_at"),
        "first_seen": row.get("first_seen"),
        "last_seen": row.get("last_seen"),
        "first_launch": usage[0],
        "views": usage[1] or 0,
        "launches": usage[2] or 0,
        "callbacks": [
            {"ref": c[0], "service": c[1], "status": c[2], "created_at": c[3]} for c in calls
        ],
    }
