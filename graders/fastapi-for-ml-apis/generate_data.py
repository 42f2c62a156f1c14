"""Generate the churn exercise's public train.csv and the two parts of its hidden holdout.

Deterministic: a fixed seed, numpy's PCG64 streams and explicit number formatting, so
the committed files can be reproduced byte for byte (tests/exercise checks it).

The hidden holdout comes in two parts of the same size and distribution (Q1 2026), with
disjoint customer ids drawn from one range, so a service cannot tell them apart:
- data/feedback/holdout.csv: what learners' results show until the due date. It is the
  holdout the grader used before the split (same seed, same draws), so train.csv kept its
  bytes; rows of it may have been seen by learners through older feedback.
- data/final/holdout.csv: what the grade uses, drawn from a second, independent stream
  (SeedSequence(seed).spawn), never used before.

The traps the graders rely on are made here, on purpose:
- customer_id: in train.csv the extract put churned customers late, so ids rise with
  churn; in the holdout ids are assigned at random and carry no signal.
- retention_offer_sent: sent mostly *after* a customer had decided to leave, so it is
  strongly predictive in both files but unknown when a prediction is requested.
- islands: 2 to 3 % of customers, whose churn follows other drivers (long-tenure,
  expensive customers leave for a local competitor); a model that never saw them
  ranks them backwards.
- time: prices rise through the year, so means over the whole file differ from
  means over the rows before a temporal validation split.
- drift: the holdout (Q1 2026) continues the price trend with a slightly higher
  base churn rate.

Usage: python generate_data.py [--train PATH] [--hidden-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import numpy as np

SEED = 20250101
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_TRAIN = REPO / "exercises" / "fastapi-for-ml-apis" / "data" / "train.csv"
DEFAULT_HIDDEN = HERE / "data"
PARTS = ("final", "feedback")
HOLDOUT_ROWS = 4000  # per part: each part alone is as large as the whole holdout before the split

COLUMNS = [
    "customer_id",
    "snapshot_date",
    "tenure_months",
    "monthly_charges",
    "support_tickets_90d",
    "plan",
    "region",
    "retention_offer_sent",
    "churned",
]
PLANS = ["basic", "standard", "premium"]
PLAN_WEIGHTS = [0.45, 0.35, 0.20]
PLAN_PRICE = {"basic": 35.0, "standard": 65.0, "premium": 95.0}
PLAN_EFFECT = {"basic": 0.35, "standard": 0.0, "premium": -0.35}
REGIONS = ["north", "south", "east", "west", "islands"]
REGION_EFFECT = {"north": 0.0, "south": 0.15, "east": -0.10, "west": 0.05, "islands": 0.0}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _customers(
    rng: np.random.Generator,
    n: int,
    start: dt.date,
    end: dt.date,
    islands_share: float,
    base_shift: float,
) -> dict[str, np.ndarray]:
    days = (end - start).days + 1
    day_offset = rng.integers(0, days, size=n)
    dates = np.array([start + dt.timedelta(days=int(d)) for d in day_offset])
    # Months since 2025-01-01 drive the price trend across both files.
    months = np.array([(d - dt.date(2025, 1, 1)).days / 30.44 for d in dates])

    others_share = (1.0 - islands_share) / 4.0
    region_p = [others_share] * 4 + [islands_share]
    region = rng.choice(REGIONS, size=n, p=region_p)
    plan = rng.choice(PLANS, size=n, p=PLAN_WEIGHTS)
    islands = region == "islands"

    tenure = rng.exponential(22.0, size=n)
    tenure = np.minimum(tenure, 119.0)
    base_price = np.array([PLAN_PRICE[p] for p in plan])
    charges = base_price * (1.0 + 0.012 * months) + rng.normal(0.0, 9.0, size=n)
    charges = np.maximum(charges, 12.0)
    tickets = rng.poisson(np.where(islands, 1.6, 1.2))

    plan_eff = np.array([PLAN_EFFECT[p] for p in plan])
    region_eff = np.array([REGION_EFFECT[r] for r in region])
    mainland_logit = (
        -0.55 - 0.055 * tenure + 0.62 * tickets + 0.030 * (charges - 65.0) + plan_eff + region_eff
    )
    # Islands: loyal newcomers, long-standing customers poached by a local competitor.
    islands_logit = -1.2 + 0.045 * tenure - 0.35 * tickets + 0.012 * (charges - 65.0)
    logit = np.where(islands, islands_logit, mainland_logit) + base_shift
    churned = (rng.random(n) < _sigmoid(logit)).astype(int)

    # Offers go mostly to customers who already told us they were leaving.
    offer_p = np.where(churned == 1, 0.72, 0.06)
    offer = (rng.random(n) < offer_p).astype(int)
    return {
        "snapshot_date": dates,
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_tickets_90d": tickets,
        "plan": plan,
        "region": region,
        "retention_offer_sent": offer,
        "churned": churned,
    }


def _train_ids(rng: np.random.Generator, churned: np.ndarray) -> np.ndarray:
    """The extract appended churned accounts late: id order follows churn, noisily."""
    key = churned * 1.0 + rng.random(churned.size) * 1.6
    order = np.argsort(key, kind="stable")
    ids = np.empty(churned.size, dtype=int)
    ids[order] = np.arange(1, churned.size + 1)
    return ids


def _holdout_ids(rng: np.random.Generator, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """Random ids from 10,001 to 90,000, leaving out ids another part already uses."""
    pool = np.arange(10_001, 90_001)
    if taken is not None:
        pool = np.setdiff1d(pool, taken)
    return rng.choice(pool, size=n, replace=False)


def _holdout_customers(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return _customers(
        rng, n, dt.date(2026, 1, 1), dt.date(2026, 3, 31), islands_share=0.03, base_shift=0.1
    )


def _write(path: Path, ids: np.ndarray, cols: dict[str, np.ndarray]) -> None:
    order = sorted(range(ids.size), key=lambda i: (cols["snapshot_date"][i], int(ids[i])))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in order:
            writer.writerow(
                [
                    int(ids[i]),
                    cols["snapshot_date"][i].isoformat(),
                    f"{cols['tenure_months'][i]:.1f}",
                    f"{cols['monthly_charges'][i]:.2f}",
                    int(cols["support_tickets_90d"][i]),
                    cols["plan"][i],
                    cols["region"][i],
                    int(cols["retention_offer_sent"][i]),
                    int(cols["churned"][i]),
                ]
            )


def generate(train_path: Path, hidden_dir: Path, seed: int = SEED) -> None:
    """Write train.csv and <hidden_dir>/{final,feedback}/holdout.csv; same seed, same bytes."""
    rng = np.random.default_rng(seed)
    train = _customers(
        rng, 5000, dt.date(2025, 1, 1), dt.date(2025, 12, 31), islands_share=0.025, base_shift=0.0
    )
    # The order of draws on `rng` is the one the generator had before the split, which
    # keeps train.csv (and the former holdout, now the feedback part) byte for byte.
    feedback = _holdout_customers(rng, HOLDOUT_ROWS)
    _write(train_path, _train_ids(rng, train["churned"]), train)
    feedback_ids = _holdout_ids(rng, HOLDOUT_ROWS)
    _write(hidden_dir / "feedback" / "holdout.csv", feedback_ids, feedback)

    final_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    final = _holdout_customers(final_rng, HOLDOUT_ROWS)
    final_ids = _holdout_ids(final_rng, HOLDOUT_ROWS, taken=feedback_ids)
    _write(hidden_dir / "final" / "holdout.csv", final_ids, final)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    parser.add_argument("--hidden-dir", type=Path, default=DEFAULT_HIDDEN)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    generate(args.train, args.hidden_dir, args.seed)


if __name__ == "__main__":
    main()
