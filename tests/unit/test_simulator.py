from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from cli.main import build_parser
from producers.clock import DEFAULT_SPEED, DEFAULT_START, SimClock, parse_speed
from producers.messages import CUSTOMERS, EVENT, PROFILE, TRANSACTIONS, Message
from producers.personas import MONTH_S, PERSONAS, WeeklyPattern
from producers.scenarios import SCENARIOS
from producers.simulator import Simulator, SimulatorOptions
from producers.truth import TruthLog

pytestmark = pytest.mark.unit

START = datetime(2021, 1, 1, tzinfo=UTC)
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def _sim(**kw: object) -> Simulator:
    options: dict[str, object] = {"customers": 300, "seed": 1, "start": START, "scenario": "none"}
    options.update(kw)
    return Simulator(SimulatorOptions(**options), produced_at=lambda: STAMP)  # type: ignore[arg-type]


def _until(sim: Simulator, days: float) -> Iterator[Message]:
    end = START + timedelta(days=days)
    return itertools.takewhile(lambda m: m.time < end, sim)


def _events(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.kind == EVENT]


def test_same_seed_same_messages_other_seed_other_messages() -> None:
    first = list(itertools.islice(_sim(bad_rate=0.05), 3000))
    again = list(itertools.islice(_sim(bad_rate=0.05), 3000))
    other = list(itertools.islice(_sim(bad_rate=0.05, seed=2), 3000))
    assert first == again
    assert [m.event for m in first] != [m.event for m in other]


def test_only_produced_at_depends_on_the_real_clock() -> None:
    ticks = itertools.count()
    options = SimulatorOptions(customers=300, seed=1, start=START, scenario="none")
    moving = Simulator(options, produced_at=lambda: STAMP + timedelta(seconds=next(ticks)))
    a = [m for m in itertools.islice(moving, 1000) if m.kind == EVENT]
    b = _events(list(itertools.islice(_sim(), 1000)))
    assert [m.event for m in a] == [m.event for m in b]
    assert [m.value for m in a] != [m.value for m in b]
    for m in a:
        decoded = json.loads(m.value)
        decoded.pop("produced_at")
        assert m.event is not None
        expected = json.loads(m.event.encode(STAMP))
        expected.pop("produced_at")
        assert decoded == expected


def test_the_bad_rate_does_not_change_the_valid_stream() -> None:
    clean = _events(list(itertools.islice(_sim(), 3000)))
    dirty = list(itertools.islice(_sim(bad_rate=0.2), 2500))
    valid = _events(dirty)
    assert valid == clean[: len(valid)]
    bad = [m for m in dirty if m.reason is not None]
    assert 0.15 < len(bad) / sum(m.topic == TRANSACTIONS for m in dirty) < 0.25


def test_messages_come_in_time_order_with_profiles_first() -> None:
    messages = list(_until(_sim(), 90))
    assert all(a.time <= b.time for a, b in itertools.pairwise(messages))
    seen: set[str] = set()
    for m in messages:
        if m.topic == CUSTOMERS:
            assert m.kind == PROFILE
            profile = json.loads(m.value)
            assert m.key == profile["customer_id"].encode()
            assert set(profile) == {
                "customer_id",
                "signup_date",
                "birth_year",
                "gender",
                "country",
                "region",
                "channel",
                "income_band",
            }
            assert profile["customer_id"] not in seen
            seen.add(profile["customer_id"])
        else:
            assert m.event is not None and m.event.customer_id in seen
            assert m.key == m.event.customer_id.encode()


def test_orders_add_up_and_returns_name_an_earlier_order_of_the_customer() -> None:
    events = [m.event for m in _until(_sim(), 180) if m.kind == EVENT]
    orders = {}
    returns = 0
    for e in events:
        assert e is not None
        assert e.amount.as_tuple().exponent == -2
        assert all(i.unit_price.as_tuple().exponent == -2 and i.quantity > 0 for i in e.items)
        assert e.amount == sum(i.unit_price * i.quantity for i in e.items)
        if e.event_type == "purchase":
            assert e.amount > 0
            orders[e.order_id] = e
        else:
            returns += 1
            original = orders.pop(e.order_id)
            assert e.customer_id == original.customer_id
            assert e.event_time > original.event_time
            assert Decimal(0) < e.amount <= original.amount
    assert len({e.event_id for e in events if e is not None}) == len(events)
    assert returns > 100


def test_personas_behave_as_described() -> None:
    sim = _sim(customers=1500, seed=3)
    days = 180
    end = (START + timedelta(days=days)).timestamp()
    events = [m.event for m in _until(sim, days) if m.event is not None and m.kind == EVENT]
    persona_of = {c.id: c.persona.name for c in sim.customers}
    purchases: Counter[str] = Counter()
    spend: defaultdict[str, Decimal] = defaultdict(Decimal)
    returns: Counter[str] = Counter()
    for e in events:
        persona = persona_of[e.customer_id]
        if e.event_type == "purchase":
            purchases[persona] += 1
            spend[persona] += e.amount
        else:
            returns[persona] += 1
    months: defaultdict[str, float] = defaultdict(float)
    for c in sim.customers:
        months[c.persona.name] += (min(c.churned_at or end, end) - c.joined) / MONTH_S

    def rate(p: str) -> float:
        return purchases[p] / months[p]

    def basket(p: str) -> Decimal:
        return spend[p] / purchases[p]

    def return_share(p: str) -> float:
        return returns[p] / purchases[p]

    assert rate("champion") > 8 * rate("big_spender")
    assert rate("champion") > 1.8 * rate("loyal")
    assert rate("bargain_hunter") > 1.5 * rate("loyal")
    assert basket("champion") > 4 * basket("bargain_hunter")
    assert basket("big_spender") > basket("champion")
    assert max(PERSONAS, key=return_share) == "bargain_hunter"
    # Nominal rates hold over the sample (seasonality averages out over half a year).
    for name in ("champion", "loyal", "bargain_hunter"):
        assert rate(name) == pytest.approx(PERSONAS[name].orders_per_month, rel=0.15)


def _bargain_share(messages: list[Message], sim: Simulator, lo: float, hi: float) -> float:
    persona = {c.id: c.persona.name for c in sim.customers}
    window = [
        m.event
        for m in messages
        if m.event is not None
        and m.kind == EVENT
        and m.event.event_type == "purchase"
        and START + timedelta(days=lo) <= m.time < START + timedelta(days=hi)
    ]
    return sum(persona[e.customer_id] == "bargain_hunter" for e in window) / len(window)


def test_a_scenario_changes_nothing_before_its_time_and_the_mix_after() -> None:
    at = 40
    calm_sim = _sim(customers=600)
    promo_sim = _sim(customers=600, scenario="promotion", scenario_start=timedelta(days=at))
    calm = list(_until(calm_sim, 130))
    promo = list(_until(promo_sim, 130))
    before = START + timedelta(days=at)
    assert [m for m in calm if m.time < before] == [m for m in promo if m.time < before]
    assert [m for m in calm if m.time >= before] != [m for m in promo if m.time >= before]

    share_before = _bargain_share(promo, promo_sim, 0, at)
    share_after = _bargain_share(promo, promo_sim, at + 30, 130)
    assert share_after > 1.4 * share_before
    assert share_after > 1.3 * _bargain_share(calm, calm_sim, at + 30, 130)
    joined_after = [c for c in promo_sim.customers if c.joined >= before.timestamp()]
    bargain = sum(c.persona.name == "bargain_hunter" for c in joined_after)
    assert bargain / len(joined_after) > 0.5


@pytest.mark.parametrize("name", [n for n, s in SCENARIOS.items() if s.shifts])
def test_every_scenario_shifts_behaviour(name: str) -> None:
    scenario = SCENARIOS[name]
    at = timedelta(days=20)
    sim = _sim(scenario=name, scenario_start=at)
    assert [(t, s.name) for t, s in sim.timeline] == [
        (START + at + s.after, s.name) for s in scenario.shifts
    ]
    shifted = _events(list(_until(sim, 60)))
    calm = _events(list(_until(_sim(), 60)))
    assert shifted != calm


def test_price_increase_raises_every_price_by_15_percent() -> None:
    at = START + timedelta(days=10)
    sim = _sim(scenario="price-increase", scenario_start=timedelta(days=10))
    before: defaultdict[str, set[Decimal]] = defaultdict(set)
    after: defaultdict[str, set[Decimal]] = defaultdict(set)
    for m in _until(sim, 30):
        if m.event is not None and m.kind == EVENT and m.event.event_type == "purchase":
            for item in m.event.items:
                (after if m.time >= at else before)[item.sku].add(item.unit_price)
    both = before.keys() & after.keys()
    assert len(both) > 50
    for sku in both:
        (list_price,) = before[sku]
        assert after[sku] == {(list_price * Decimal("1.15")).quantize(Decimal("0.01"))}


def test_weekly_pattern_spends_work_at_the_pattern_rate() -> None:
    hours = [1.0] * 24
    hours[12] = 23.0  # half of each day's activity in the noon hour
    pattern = WeeklyPattern(hours, [1.0] * 7)
    monday = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    # A whole day of work at mean rate 1 takes exactly one day, wherever it starts.
    assert pattern.advance(monday, 86_400.0) == pytest.approx(monday + 86_400.0)
    assert pattern.advance(monday + 5000.0, 7 * 86_400.0) == pytest.approx(
        monday + 5000.0 + 7 * 86_400.0
    )
    # From midnight, the quiet hours until noon hold 12/46 of a day's work, and the busy
    # noon hour another half of it.
    day = 86_400.0
    assert pattern.advance(monday, day * 12 / 46) == pytest.approx(monday + 12 * 3600.0)
    assert pattern.advance(monday, day * 35 / 46) == pytest.approx(monday + 13 * 3600.0)


def test_sim_clock_runs_fast_but_never_ahead_of_the_wall_clock() -> None:
    wall = [datetime(2026, 6, 1, tzinfo=UTC).timestamp()]
    clock = SimClock(datetime(2026, 5, 1, tzinfo=UTC), 86_400.0, real=lambda: wall[0])
    assert clock.now() == datetime(2026, 5, 1, tzinfo=UTC)
    assert clock.seconds_until(datetime(2026, 5, 3, tzinfo=UTC)) == pytest.approx(2.0)
    wall[0] += 1.5
    assert clock.now() == datetime(2026, 5, 2, 12, tzinfo=UTC)
    assert clock.seconds_until(datetime(2026, 5, 2, tzinfo=UTC)) == 0.0
    wall[0] += 60.0
    capped = datetime.fromtimestamp(wall[0], UTC)
    assert clock.now() == capped
    assert clock.seconds_until(capped + timedelta(seconds=3)) == pytest.approx(3.0)

    unbounded = SimClock(DEFAULT_START, parse_speed("max"), real=lambda: wall[0])
    assert unbounded.now() == capped
    assert unbounded.seconds_until(DEFAULT_START + timedelta(days=900)) == 0.0


def test_default_start_leaves_a_30_minute_demo_in_the_past() -> None:
    demo_end = DEFAULT_START + timedelta(seconds=30 * 60 * DEFAULT_SPEED)
    assert demo_end < datetime.now(UTC) - timedelta(days=365)
    with pytest.raises(ValueError):
        parse_speed("0")


def test_truth_files_name_personas_shifts_and_bad_labels(tmp_path: Path) -> None:
    sim = _sim(scenario="promotion", scenario_start=timedelta(days=5), bad_rate=0.1)
    labels = TruthLog()
    sent = list(_until(sim, 80))
    for m in sent:
        labels.record(m)
    labels.write(tmp_path, sim)

    customers = pq.read_table(tmp_path / "customers.parquet").to_pylist()
    assert {c["customer_id"]: c["persona"] for c in customers} == {
        c.id: c.persona.name for c in sim.customers
    }
    seen = {json.loads(m.value)["customer_id"] for m in sent if m.topic == CUSTOMERS}
    assert {c["customer_id"] for c in customers if c["first_seen_at"]} == seen

    timeline = pq.read_table(tmp_path / "scenario.parquet").to_pylist()
    assert [(t["name"], t["simulated_time"]) for t in timeline] == [
        ("promotion-starts", START + timedelta(days=5)),
        ("promotion-ends", START + timedelta(days=65)),
    ]

    bad = pq.read_table(tmp_path / "bad_messages.parquet").to_pylist()
    expected = [m for m in sent if m.reason is not None]
    assert len(bad) == len(expected) > 0
    for row, m in zip(bad, expected, strict=True):
        assert (row["kind"], row["expected_reason"], row["key"]) == (m.kind, m.reason, m.key)
        assert row["value_bytes"] == len(m.value)


def test_simulate_help_lists_every_scenario_and_explains_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--help"])
    text = capsys.readouterr().out
    for scenario in SCENARIOS.values():
        assert f"{scenario.name:<22} {scenario.summary}" in text
    for option in ("--speed", "--scenario-at", "--bad-rate", "--truth", "--max-events"):
        assert option in text
    assert "examples:" in text


def test_simulate_arguments_become_options() -> None:
    args = build_parser().parse_args(
        ["simulate", "--speed", "max", "--bad-rate", "0.01", "--scenario-at", "0"]
    )
    assert args.speed == float("inf")
    assert args.bad_rate == 0.01
    assert args.scenario_at == 0.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--bad-rate", "1"])
