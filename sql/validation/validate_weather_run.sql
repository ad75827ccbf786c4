-- Validates the refined weather of one run window; the state machine runs it after the Glue job (contract 4).
-- Athena (engine 3) dialect. Two positional parameters, in this order: window_start, window_end, as 'YYYY-MM-DD'
-- strings (observation dates, UTC, both included). The table is referenced unqualified: Athena's query execution
-- context names the database; locally it is a DuckDB view.
--
-- Returns exactly one row: passed, failed_checks ('' when none, else the failed checks' names joined by ','),
-- then the measured values. Checks:
--   row_count              the window holds at least one row
--   duplicate_keys         no (city, observed_at) appears twice
--   null_temperature_rate  at most 5 % of the window's hours lack a temperature
--   incomplete_days        every (date, city) present holds its 24 distinct hours
--   missing_days           every city present in the window has every day of the window
--   freshness              the most recent fetch is no older than the window's start (a lower bound: the run that
--                          asked for this window fetched on a day inside it)
--
-- The parameters enter once, in run_window; Trino folds that one-row constant relation into the filter, so the
-- predicate on "date" reaches partition projection as constants and only the window's partitions are read.
WITH run_window AS (
    SELECT
        CAST(? AS varchar) AS window_start,
        CAST(? AS varchar) AS window_end
),
window_rows AS (
    SELECT h.city, h."date", h.observed_at, h.temperature_c, h.fetched_at
    FROM weather_hourly AS h
    CROSS JOIN run_window AS w
    WHERE h."date" BETWEEN w.window_start AND w.window_end
),
city_days AS (
    SELECT city, "date", count(DISTINCT observed_at) AS distinct_hours
    FROM window_rows
    GROUP BY city, "date"
),
duplicate_keys AS (
    SELECT city, observed_at
    FROM window_rows
    GROUP BY city, observed_at
    HAVING count(*) > 1
),
measures AS (
    SELECT
        w.window_start,
        w.window_end,
        date_diff('day', CAST(w.window_start AS date), CAST(w.window_end AS date)) + 1 AS window_days,
        (SELECT count(*) FROM window_rows) AS row_count,
        (SELECT count(*) FROM duplicate_keys) AS duplicate_keys,
        (
            SELECT CAST(count_if(temperature_c IS NULL) AS double) / nullif(count(*), 0)
            FROM window_rows
        ) AS null_temperature_rate,
        (SELECT max(observed_at) FROM window_rows) AS latest_observation,
        (SELECT max(fetched_at) FROM window_rows) AS latest_fetch,
        (SELECT count(DISTINCT city) FROM window_rows) AS city_count,
        (SELECT count(*) FROM city_days) AS city_days,
        (SELECT count(*) FROM city_days WHERE distinct_hours <> 24) AS incomplete_days
    FROM run_window AS w
),
checks AS (
    SELECT
        m.*,
        m.city_count * m.window_days - m.city_days AS missing_days,
        concat_ws(
            ',',
            IF(m.row_count = 0, 'row_count'),
            IF(m.duplicate_keys > 0, 'duplicate_keys'),
            IF(coalesce(m.null_temperature_rate, 0) > 0.05, 'null_temperature_rate'),
            IF(m.incomplete_days > 0, 'incomplete_days'),
            IF(m.city_count * m.window_days - m.city_days > 0, 'missing_days'),
            IF(m.latest_fetch IS NULL OR m.latest_fetch < CAST(m.window_start AS timestamp), 'freshness')
        ) AS failed_checks
    FROM measures AS m
)
SELECT
    failed_checks = '' AS passed,
    failed_checks,
    row_count,
    duplicate_keys,
    null_temperature_rate,
    latest_observation,
    latest_fetch,
    city_count,
    window_days,
    incomplete_days,
    missing_days,
    window_start,
    window_end
FROM checks
