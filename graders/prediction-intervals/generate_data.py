"""Generate the delivery-time exercise's public train.csv and the two parts of its hidden holdout.

Deterministic: a fixed seed, numpy's PCG64 streams and explicit number formatting, so the
committed files can be reproduced byte for byte (tests/exercise checks it).

Each row is one delivery: which courier took it from which store, how far, how many items,
at what hour, in which zone, by which vehicle, and how many minutes it took. The traps the
grader relies on are made here, on purpose:
- couriers and stores repeat: every courier makes dozens of deliveries in train.csv, and each
  courier and store has its own speed. A random split puts a courier's deliveries on both
  sides and flatters anything that remembers couriers; the holdout's couriers and stores are
  all new (the service must work for the couriers and partners who join next), which only a
  split grouped by courier (or store) imitates.
- customer_rating: the stars the customer gave *after* the delivery, low when it was slow.
  It is in both files and strongly predictive, but unknown when a prediction is requested.
- noise differs by zone: centre deliveries are predictable to a few minutes, suburb ones less,
  outskirts ones (15 % of rows) much less. One interval width for everyone covers the centre
  far too well and the outskirts far too rarely.

The hidden holdout comes in two parts of the same size and distribution (Q1 2026), with
disjoint order, courier and store ids drawn from one range, so a service cannot tell them
apart: data/feedback/ (what learners see until the due date) and data/final/ (the grade),
each from its own stream (SeedSequence(seed).spawn).

Usage: python generate_data.py [--train PATH] [--hidden-dir DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import numpy as np

SEED = 20260212
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_TRAIN = REPO / "exercises" / "prediction-intervals" / "data" / "train.csv"
DEFAULT_HIDDEN = HERE / "data"
PARTS = ("final", "feedback")
TRAIN_ROWS = 6000
TRAIN_COURIERS = 150
TRAIN_STORES = 60
HOLDOUT_ROWS = 3000  # per part
HOLDOUT_COURIERS = 80
HOLDOUT_STORES = 30

COLUMNS = [
    "order_id",
    "order_date",
    "courier_id",
    "store_id",
    "distance_km",
    "items",
    "hour",
    "zone",
    "vehicle",
    "customer_rating",
    "delivery_minutes",
]
ZONES = ["centre", "suburb", "outskirts"]
ZONE_WEIGHTS = [0.50, 0.35, 0.15]
ZONE_DISTANCE = {"centre": 2.2, "suburb": 4.5, "outskirts": 8.5}  # mean km
ZONE_NOISE = {"centre": 2.5, "suburb": 5.5, "outskirts": 11.0}  # sd of minutes
VEHICLES = ["bike", "scooter", "car"]
VEHICLE_WEIGHTS = [0.40, 0.35, 0.25]
MINUTES_PER_KM = {"bike": 3.6, "scooter": 2.8, "car": 2.3}
COURIER_SD = 2.5  # minutes: a courier's own pace
STORE_SD = 2.0  # minutes: a store's own preparation time
HOURS = np.arange(9, 24)


def _entities(rng: np.random.Generator, n: int, sd: float) -> np.ndarray:
    return rng.normal(0.0, sd, size=n)


def _deliveries(
    rng: np.random.Generator,
    n: int,
    start: dt.date,
    end: dt.date,
    couriers: int,
    stores: int,
) -> dict[str, np.ndarray]:
    days = (end - start).days + 1
    dates = np.array([start + dt.timedelta(days=int(d)) for d in rng.integers(0, days, size=n)])
    courier_pace = _entities(rng, couriers, COURIER_SD)
    store_prep = _entities(rng, stores, STORE_SD)
    # Some couriers and stores are busier than others: uneven, as in real logs.
    courier = rng.choice(couriers, size=n, p=rng.dirichlet(np.full(couriers, 4.0)))
    store = rng.choice(stores, size=n, p=rng.dirichlet(np.full(stores, 3.0)))
    zone = rng.choice(ZONES, size=n, p=ZONE_WEIGHTS)
    vehicle = rng.choice(VEHICLES, size=n, p=VEHICLE_WEIGHTS)
    distance = np.array([rng.gamma(3.0, ZONE_DISTANCE[z] / 3.0) for z in zone])
    distance = np.clip(distance, 0.3, 30.0)
    items = np.minimum(rng.poisson(2.2, size=n) + 1, 12)
    hour = rng.choice(HOURS, size=n)

    rush = ((hour >= 11) & (hour <= 13)) | ((hour >= 18) & (hour <= 20))
    centre = zone == "centre"
    per_km = np.array([MINUTES_PER_KM[v] for v in vehicle])
    # Cars crawl in the centre; bikes tire on long rides.
    per_km = per_km + np.where(centre & (vehicle == "car"), 1.6, 0.0)
    per_km = per_km + np.where((vehicle == "bike") & (distance > 6.0), 0.8, 0.0)
    mean = (
        9.0
        + 1.3 * items
        + per_km * distance
        + np.where(rush, np.where(centre, 6.0, 3.0), 0.0)
        + courier_pace[courier]
        + store_prep[store]
    )
    noise = np.array([rng.normal(0.0, ZONE_NOISE[z]) for z in zone])
    minutes = np.maximum(mean + noise, 4.0)

    # Stars given afterwards: they follow how late the order felt, and a little taste.
    lateness = minutes - (mean - courier_pace[courier] - store_prep[store])
    rating = np.clip(np.round(4.3 - 0.12 * lateness + rng.normal(0.0, 0.5, size=n)), 1, 5)
    return {
        "order_date": dates,
        "courier": courier,
        "store": store,
        "distance_km": distance,
        "items": items,
        "hour": hour,
        "zone": zone,
        "vehicle": vehicle,
        "customer_rating": rating.astype(int),
        "delivery_minutes": minutes,
    }


def _ids(rng: np.random.Generator, n: int, low: int, high: int, taken: np.ndarray | None = None):
    pool = np.arange(low, high)
    if taken is not None:
        pool = np.setdiff1d(pool, taken)
    return rng.choice(pool, size=n, replace=False)


def _write(path: Path, order_ids: np.ndarray, courier_ids, store_ids, cols) -> None:
    n = order_ids.size
    order = sorted(range(n), key=lambda i: (cols["order_date"][i], int(order_ids[i])))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in order:
            writer.writerow(
                [
                    int(order_ids[i]),
                    cols["order_date"][i].isoformat(),
                    int(courier_ids[cols["courier"][i]]),
                    int(store_ids[cols["store"][i]]),
                    f"{cols['distance_km'][i]:.2f}",
                    int(cols["items"][i]),
                    int(cols["hour"][i]),
                    cols["zone"][i],
                    cols["vehicle"][i],
                    int(cols["customer_rating"][i]),
                    f"{cols['delivery_minutes'][i]:.1f}",
                ]
            )


def _holdout_part(rng: np.random.Generator, path: Path, taken: dict[str, np.ndarray]) -> None:
    """One part: new couriers and stores (ids from the holdout ranges, none another part uses)."""
    cols = _deliveries(
        rng, HOLDOUT_ROWS, dt.date(2026, 1, 1), dt.date(2026, 3, 31), HOLDOUT_COURIERS,
        HOLDOUT_STORES,
    )
    orders = _ids(rng, HOLDOUT_ROWS, 100_001, 200_001, taken.get("orders"))
    couriers = _ids(rng, HOLDOUT_COURIERS, 2_001, 4_001, taken.get("couriers"))
    stores = _ids(rng, HOLDOUT_STORES, 801, 1_001, taken.get("stores"))
    _write(path, orders, couriers, stores, cols)
    for key, ids in (("orders", orders), ("couriers", couriers), ("stores", stores)):
        taken[key] = ids if key not in taken else np.concatenate([taken[key], ids])


def generate(train_path: Path, hidden_dir: Path, seed: int = SEED) -> None:
    """Write train.csv and <hidden_dir>/{final,feedback}/holdout.csv; same seed, same bytes."""
    train_rng, final_rng, feedback_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    train = _deliveries(
        train_rng, TRAIN_ROWS, dt.date(2025, 1, 1), dt.date(2025, 12, 31), TRAIN_COURIERS,
        TRAIN_STORES,
    )
    _write(
        train_path,
        np.arange(1, TRAIN_ROWS + 1),
        train_rng.choice(np.arange(1_001, 2_001), size=TRAIN_COURIERS, replace=False),
        train_rng.choice(np.arange(101, 801), size=TRAIN_STORES, replace=False),
        train,
    )
    taken: dict[str, np.ndarray] = {}
    _holdout_part(final_rng, hidden_dir / "final" / "holdout.csv", taken)
    _holdout_part(feedback_rng, hidden_dir / "feedback" / "holdout.csv", taken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    parser.add_argument("--hidden-dir", type=Path, default=DEFAULT_HIDDEN)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    generate(args.train, args.hidden_dir, args.seed)


if __name__ == "__main__":
    main()
