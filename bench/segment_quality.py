"""How well segments recover the simulator's hidden personas (adjusted Rand index).

    .venv/bin/python -m bench.segment_quality [--events 300000] [--customers 3000]

Simulates a shop in process (no Kafka; scenario `none`, so personas are stationary), builds
each customer's RFM with pandas from the valid events, then compares three labelings with
the ground-truth personas: K-Means segments (the scikit-learn engine with k chosen by knee
and silhouette), the same engine forced to k = number of personas, and the classic rule
segments. A labeling by random assignment is the baseline (ARI about 0).
"""

from __future__ import annotations

import argparse
import itertools
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from batch.fitting import TrainParams, nearest
from batch.rfm_rules import scores
from batch.train_sklearn import fit
from producers.personas import PERSONAS
from producers.simulator import Simulator, SimulatorOptions
from segstream.model.features import DEFAULT_FEATURES, pandas_features


def _rfm(simulator: Simulator, events: int) -> pd.DataFrame:
    rows = []
    for m in itertools.islice(simulator, events):
        if m.topic == "transactions" and m.reason is None and m.event is not None:
            e = m.event
            rows.append((e.customer_id, e.event_type, e.event_time, e.amount))
    df = pd.DataFrame(rows, columns=["customer_id", "type", "time", "amount"])
    df["time"] = pd.to_datetime(df["time"], utc=True).dt.tz_localize(None)
    buys, rets = df[df["type"] == "purchase"], df[df["type"] == "return"]
    g = buys.groupby("customer_id")
    rfm = pd.DataFrame(
        {
            "first_purchase_at": g["time"].min(),
            "last_purchase_at": g["time"].max(),
            "orders": g.size(),
            "gross_revenue": g["amount"].sum(),
        }
    )
    returned = rets.groupby("customer_id")["amount"].sum()
    rfm["returns_amount"] = returned.reindex(rfm.index).fillna(Decimal("0"))
    rfm["monetary"] = rfm["gross_revenue"] - rfm["returns_amount"]
    rfm["last_event_at"] = df.groupby("customer_id")["time"].max().reindex(rfm.index)
    return rfm


def _labels(x: np.ndarray, k: int | None) -> tuple[np.ndarray, int]:
    params = TrainParams(
        ks=(k,) if k else tuple(range(2, 11)),
        forced=k is not None,
        restarts=3,
        max_iter=100,
        seed=0,
        silhouette_sample=4000,
        drift_bins=10,
    )
    result = fit(x, DEFAULT_FEATURES, params)
    return nearest(result.space.from_raw(x), result.chosen.centroids), result.choice.k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000, help="simulated messages")
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args()
    simulator = Simulator(SimulatorOptions(customers=args.customers, seed=11, scenario="none"))
    rfm = _rfm(simulator, args.events)
    persona = {c.id: c.persona.name for c in simulator.customers}
    truth = rfm.index.map(persona)
    as_of: datetime = rfm["last_event_at"].max()
    features = pandas_features(rfm, as_of)
    x = features[list(DEFAULT_FEATURES)].to_numpy()

    auto, k_auto = _labels(x, None)
    forced, _ = _labels(x, len(PERSONAS))
    rules = scores(features, threshold=5)["rule_segment"]
    rng = np.random.default_rng(0)
    rows = [
        (
            "random assignment (baseline)",
            len(PERSONAS),
            adjusted_rand_score(truth, rng.integers(0, len(PERSONAS), len(truth))),
        ),
        ("K-Means, k chosen", k_auto, adjusted_rand_score(truth, auto)),
        ("K-Means, k = personas", len(PERSONAS), adjusted_rand_score(truth, forced)),
        ("rule segments (R x F table)", rules.nunique(), adjusted_rand_score(truth, rules)),
    ]
    print(f"customers with purchases: {len(rfm):,}; personas: {len(PERSONAS)}; as-of {as_of}")
    print(f"{'labeling':<32} {'groups':>6} {'ARI vs personas':>16}")
    for name, groups, ari in rows:
        print(f"{name:<32} {groups:>6} {ari:>16.3f}")


if __name__ == "__main__":
    main()
