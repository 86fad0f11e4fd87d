#!/usr/bin/env bash
# The five-minute tour, run for real: CSV -> raw Parquet (pipe) -> SQL (lens) -> model and
# predictions (ml, called by lens) -> SQL over the predictions -> gold tables and their tests
# (lens). Local bucket: demo/bucket.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$root/dataspoc-pipe/.venv/bin:$root/dataspoc-lens/.venv/bin:$root/dataspoc-ml/.venv/bin:$PATH"
work="${DEMO_DIR:-$root/demo}"
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

unset DATASPOC_BUCKET DATASPOC_PIPE_PROJECT DATASPOC_ML_BIN
rm -rf "$work" && mkdir -p "$work" && cd "$work"
step "sample data: customers and orders CSVs"
python3 "$root/examples/generate_sample.py" data

step "dataspoc-pipe: two pipelines into raw/"
dataspoc-pipe init --bucket ./bucket
dataspoc-pipe add customers --path data/customers.csv --namespace crm
dataspoc-pipe add orders --path data/orders.csv --namespace shop
dataspoc-pipe run --all
dataspoc-pipe run --all   # a rerun finds nothing new and writes nothing
dataspoc-pipe status

export DATASPOC_BUCKET="$work/bucket"
step "dataspoc-lens: the catalog, then SQL across tables"
dataspoc-lens catalog
dataspoc-lens query "
  SELECT c.country, count(*) AS orders, round(sum(o.amount), 2) AS revenue
  FROM raw.shop.orders o JOIN raw.crm.customers c USING (customer_id)
  WHERE o.status = 'paid'
  GROUP BY c.country ORDER BY revenue DESC"

step "dataspoc-ml: train a churn model"
dataspoc-ml train churn --table raw.crm.customers --target churned --exclude customer_id,signup_date

step "dataspoc-lens ml predict: lens runs dataspoc-ml, then the predictions are a table"
dataspoc-lens ml predict churn --table raw.crm.customers
dataspoc-lens query "
  SELECT plan, count(*) AS customers,
         round(avg(probability), 3) AS avg_churn_probability,
         sum(CASE WHEN prediction THEN 1 ELSE 0 END) AS predicted_to_churn
  FROM ml.predictions.churn GROUP BY plan ORDER BY avg_churn_probability DESC"

step "dataspoc-lens transform: gold tables from SQL files, in dependency order, then their tests"
mkdir -p transforms/sales
cat > transforms/sales/daily_revenue.sql <<'SQL'
/* ---
tests:
  - {check: not_null, columns: [day]}
  - {check: range, column: revenue, min: 0}
--- */
SELECT CAST(ordered_at AS DATE) AS day, count(*) AS orders, round(sum(amount), 2) AS revenue
FROM raw.shop.orders WHERE status = 'paid' GROUP BY 1
SQL
cat > transforms/sales/customer_value.sql <<'SQL'
/* ---
tests:
  - {check: unique, columns: [customer_id]}
  - {check: range, column: churn_probability, min: 0, max: 1}
--- */
SELECT p.customer_id, p.plan, p.probability AS churn_probability, coalesce(sum(o.amount), 0) AS spent
FROM ml.predictions.churn p LEFT JOIN raw.shop.orders o USING (customer_id)
GROUP BY ALL
SQL
dataspoc-lens transform list
dataspoc-lens transform run
dataspoc-lens transform run   # nothing changed upstream: every model is left as it is
dataspoc-lens test
dataspoc-lens query "
  SELECT plan, count(*) AS customers_at_risk, round(sum(spent), 2) AS revenue_at_risk
  FROM gold.sales.customer_value WHERE churn_probability > 0.5
  GROUP BY plan ORDER BY revenue_at_risk DESC"

step "done: the bucket is at $work/bucket"
