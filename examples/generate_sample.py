"""Write a small, realistic, deterministic sample: customers.csv and orders.csv.

Standard library only. The churn label depends on the other columns (with noise), so a model
has something real to learn.

    python3 examples/generate_sample.py OUT_DIR [--customers 2000] [--orders 6000] [--seed 42]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path

COUNTRIES = [("BR", 0.35), ("US", 0.25), ("DE", 0.15), ("PT", 0.15), ("MX", 0.10)]
PLANS = [("free", 0.5, 0.0), ("pro", 0.35, 29.0), ("team", 0.15, 99.0)]
STATUSES = [("paid", 0.85), ("refunded", 0.05), ("pending", 0.10)]


def pick(rng: random.Random, weighted):
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def customers(rng: random.Random, count: int) -> list[dict]:
    rows = []
    start = date(2024, 1, 1)
    for customer_id in range(1, count + 1):
        plan = pick(rng, PLANS)
        fee = next(p[2] for p in PLANS if p[0] == plan)
        age = rng.randint(18, 75)
        tickets = min(12, int(rng.expovariate(0.6)))
        tenure_days = rng.randint(10, 1000)
        monthly_spend = round(fee + max(0.0, rng.gauss(20, 15)), 2)
        score = -1.2 + 0.45 * tickets - 0.002 * tenure_days - 0.02 * monthly_spend + (0.8 if plan == "free" else 0.0)
        churned = rng.random() < 1 / (1 + math.exp(-score))
        rows.append(
            {
                "customer_id": customer_id,
                "country": pick(rng, COUNTRIES),
                "plan": plan,
                "age": age if rng.random() > 0.03 else "",  # a few unknown ages, as in real exports
                "signup_date": (start + timedelta(days=1000 - tenure_days)).isoformat(),
                "tenure_days": tenure_days,
                "monthly_spend": monthly_spend,
                "support_tickets": tickets,
                "churned": "true" if churned else "false",
            }
        )
    return rows


def orders(rng: random.Random, count: int, customer_count: int) -> list[dict]:
    rows = []
    start = datetime(2026, 1, 1)
    for order_id in range(1, count + 1):
        rows.append(
            {
                "order_id": order_id,
                "customer_id": rng.randint(1, customer_count),
                "ordered_at": (start + timedelta(minutes=rng.randint(0, 60 * 24 * 320))).isoformat(sep=" "),
                "amount": round(rng.lognormvariate(3.5, 0.8), 2),
                "status": pick(rng, STATUSES),
            }
        )
    return rows


def write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out / "customers.csv", customers(rng, args.customers))
    write(args.out / "orders.csv", orders(rng, args.orders, args.customers))
    print(f"wrote {args.customers} customers and {args.orders} orders to {args.out}")


if __name__ == "__main__":
    main()
