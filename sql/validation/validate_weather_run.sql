-- Validates the refined weather of one run window; the state machine runs it after the Glue job (contract 4).
-- Athena (engine 3) dialect. Each parameter is a quoted SQL string literal ('YYYY-MM-DD': observation dates, UTC,
-- both included), spliced in for the next placeholder in text order:
-- Parameters (in order): window_start, window_end, window_start, window_end
-- Athena accepts placeholders only in WHERE clauses, so the window enters twice: once to pick its days from a
-- calendar (the window's own values, which the measures and checks need), once as constants on "date", which
-- partition projection prunes on. tools/sync_sql.py builds the state machine's ExecutionParameters from the line
-- above. The table is referenced unqualified: Athena's query execution context names the database; locally it is
-- a DuckDB view.
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
WITH calendar AS (
    -- Every day from 1900-01-01 to 2199-12-31 (Trino's sequence() stops at 10,000 entries: years x day offsets).
    SELECT day
    FROM (
        SELECT CAST(date_add('day', day_offset, year_start) AS date) AS day, year_start
        FROM UNNEST(sequence(DATE '1900-01-01', DATE '2199-01-01', INTERVAL '1' YEAR)) AS years (year_start)
        CROSS JOIN UNNEST(sequence(0, 365)) AS offsets (day_offset)
    ) AS candidates
    WHERE year(day) = year(year_start)
),
run_window AS (
    SELECT
        CAST(min(day) AS varchar) AS window_start,
        CAST(max(day) AS varchar) AS window_end,
        count(*) AS window_days
    FROM calendar
    WHERE day BETWEEN CAST(? AS date) AND CAST(? AS date)
),
window_rows AS (
    SELECT h.city, h."date", h.observed_at, h.temperature_c, h.fetched_at
    FROM weather_hourly AS h
    WHERE h."date" BETWEEN ? AND ?
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
        w.window_days,
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
