"""Generate the monitoring exercise's public train.csv, its hidden holdout and request streams.

Deterministic: a fixed seed, numpy's PCG64 streams and explicit number formatting, so the
committed files can be reproduced byte for byte (tests/exercise checks it).

The task is card-payment fraud: each row is one payment, `fraud` is the label. Files:
- exercises/<slug>/data/train.csv: 6,000 payments dated 2025.
- data/holdout.csv (hidden): 4,000 payments from Q1 2026, graded for model quality.
- data/stream_unshifted.csv (hidden): 1,000 request bodies drawn like the training data,
  on which a correct /drift flags nothing.
- data/stream_shifted.csv (hidden): 1,000 request bodies in which two named features moved
  (SHIFTED_FEATURES: amounts grew, mobile payments took over), the others drawn as before.

The traps the graders rely on are made here, on purpose:
- payment_id: in train.csv the extract appended confirmed frauds late, so ids rise with
  fraud; in the holdout ids are random and carry no signal.
- chargeback_filed: filed by the cardholder weeks *after* the payment, mostly on frauds, so
  strongly predictive in both files and unknown when a prediction is requested.
- gaming: about 6 % of payments, whose fraud follows other drivers (small amounts at night
  from new accounts: card testing); a model that never looks at the category ranks them
  poorly.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import numpy as np

SEED = 20251212
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SLUG = "monitoring-model-services"
DEFAULT_TRAIN = REPO / "exercises" / SLUG / "data" / "train.csv"
DEFAULT_HIDDEN = HERE / "data"
TRAIN_ROWS = 6000
HOLDOUT_ROWS = 4000
STREAM_ROWS = 1000

COLUMNS = [
    "payment_id",
    "payment_date",
    "amount",
    "hour",
    "account_age_days",
    "distance_km",
    "merchant_category",
    "channel",
    "chargeback_filed",
    "fraud",
]
REQUEST_FIELDS = [
    "payment_id",
    "amount",
    "hour",
    "account_age_days",
    "distance_km",
    "merchant_category",
    "channel",
]
CATEGORIES = ["grocery", "fuel", "electronics", "travel", "gaming"]
CATEGORY_WEIGHTS = [0.34, 0.22, 0.20, 0.18, 0.06]
CATEGORY_EFFECT = {"grocery": -0.4, "fuel": -0.2, "electronics": 0.35, "travel": 0.25}
CHANNELS = ["pos", "web", "mobile"]
CHANNEL_WEIGHTS = [0.45, 0.30, 0.25]
CHANNEL_EFFECT = {"pos": -0.45, "web": 0.3, "mobile": 0.15}
# The stream in which drift must be flagged: these two move, the rest are drawn as in training.
SHIFTED_FEATURES = ("amount", "channel")
SHIFTED_CHANNEL_WEIGHTS = [0.15, 0.20, 0.65]
SHIFTED_AMOUNT_FACTOR = 2.2


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _payments(
    rng: np.random.Generator,
    n: int,
    start: dt.date,
    end: dt.date,
    base_shift: float = 0.0,
    channel_weights: list[float] = CHANNEL_WEIGHTS,
    amount_factor: float = 1.0,
) -> dict[str, np.ndarray]:
    days = (end - start).days + 1
    dates = np.array([start + dt.timedelta(days=int(d)) for d in rng.integers(0, days, size=n)])
    category = rng.choice(CATEGORIES, size=n, p=CATEGORY_WEIGHTS)
    channel = rng.choice(CHANNELS, size=n, p=channel_weights)
    gaming = category == "gaming"
    amount = np.exp(rng.normal(np.where(gaming, 2.6, 3.9), 0.8, size=n)) * amount_factor
    amount = np.minimum(np.maximum(amount, 1.0), 20000.0)
    # Hours peak in the afternoon; card testing runs at night.
    hour = np.where(
        gaming & (rng.random(n) < 0.5),
        rng.integers(0, 6, size=n),
        np.clip(np.round(rng.normal(14.0, 4.5, size=n)), 0, 23),
    ).astype(int)
    account_age = np.minimum(rng.exponential(420.0, size=n), 5000.0)
    distance = np.minimum(rng.exponential(12.0, size=n), 5000.0)

    night = (hour < 6).astype(float)
    cat_eff = np.array([CATEGORY_EFFECT.get(c, 0.0) for c in category])
    chan_eff = np.array([CHANNEL_EFFECT[c] for c in channel])
    log_amount = np.log(amount / amount_factor)
    main_logit = (
        -2.2
        + 0.55 * (log_amount - 3.9)
        + 0.035 * distance
        - 0.0025 * account_age
        + 0.8 * night
        + cat_eff
        + chan_eff
    )
    # Card testing: small amounts from new accounts at night; large gaming amounts are honest.
    gaming_logit = -0.7 - 0.9 * (log_amount - 2.6) - 0.006 * account_age + 1.2 * night
    logit = np.where(gaming, gaming_logit, main_logit) + base_shift
    fraud = (rng.random(n) < _sigmoid(logit)).astype(int)
    chargeback = (rng.random(n) < np.where(fraud == 1, 0.78, 0.03)).astype(int)
    return {
        "payment_date": dates,
        "amount": amount,
        "hour": hour,
        "account_age_days": account_age,
        "distance_km": distance,
        "merchant_category": category,
        "channel": channel,
        "chargeback_filed": chargeback,
        "fraud": fraud,
    }


def _train_ids(rng: np.random.Generator, fraud: np.ndarray) -> np.ndarray:
    """The extract appended confirmed frauds late: id order follows fraud, noisily."""
    key = fraud * 1.0 + rng.random(fraud.size) * 1.5
    ids = np.empty(fraud.size, dtype=int)
    ids[np.argsort(key, kind="stable")] = np.arange(1, fraud.size + 1)
    return ids


def _random_ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return rng.choice(np.arange(low, high), size=n, replace=False)


def _cells(cols: dict[str, np.ndarray], ids: np.ndarray, i: int) -> dict[str, object]:
    return {
        "payment_id": int(ids[i]),
        "payment_date": cols["payment_date"][i].isoformat(),
        "amount": f"{cols['amount'][i]:.2f}",
        "hour": int(cols["hour"][i]),
        "account_age_days": f"{cols['account_age_days'][i]:.1f}",
        "distance_km": f"{cols['distance_km'][i]:.2f}",
        "merchant_category": cols["merchant_category"][i],
        "channel": cols["channel"][i],
        "chargeback_filed": int(cols["chargeback_filed"][i]),
        "fraud": int(cols["fraud"][i]),
    }


def _write(path: Path, ids: np.ndarray, cols: dict[str, np.ndarray], columns: list[str]) -> None:
    """Rows in date then id order (a stream keeps its drawing order: it is sent as drawn)."""
    if "payment_date" in columns:
        order = sorted(range(ids.size), key=lambda i: (cols["payment_date"][i], int(ids[i])))
    else:
        order = list(range(ids.size))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for i in order:
            cells = _cells(cols, ids, i)
            writer.writerow([cells[c] for c in columns])


def generate(train_path: Path, hidden_dir: Path, seed: int = SEED) -> None:
    """Write train.csv, holdout.csv and both streams; the same seed gives the same bytes."""
    train_rng, holdout_rng, stream_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    train = _payments(train_rng, TRAIN_ROWS, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    _write(train_path, _train_ids(train_rng, train["fraud"]), train, COLUMNS)

    holdout = _payments(
        holdout_rng, HOLDOUT_ROWS, dt.date(2026, 1, 1), dt.date(2026, 3, 31), base_shift=0.1
    )
    holdout_ids = _random_ids(holdout_rng, HOLDOUT_ROWS, 100_001, 900_001)
    _write(hidden_dir / "holdout.csv", holdout_ids, holdout, COLUMNS)

    # Streams are drawn like train.csv (the same year, the same weights) except where shifted.
    year = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    unshifted = _payments(stream_rng, STREAM_ROWS, *year)
    _write(
        hidden_dir / "stream_unshifted.csv",
        _random_ids(stream_rng, STREAM_ROWS, 1_000_001, 2_000_001),
        unshifted,
        REQUEST_FIELDS,
    )
    shifted = _payments(
        stream_rng,
        STREAM_ROWS,
        *year,
        channel_weights=SHIFTED_CHANNEL_WEIGHTS,
        amount_factor=SHIFTED_AMOUNT_FACTOR,
    )
    _write(
        hidden_dir / "stream_shifted.csv",
        _random_ids(stream_rng, STREAM_ROWS, 2_000_001, 3_000_001),
        shifted,
        REQUEST_FIELDS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    parser.add_argument("--hidden-dir", type=Path, default=DEFAULT_HIDDEN)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    generate(args.train, args.hidden_dir, args.seed)


if __name__ == "__main__":
    main()
