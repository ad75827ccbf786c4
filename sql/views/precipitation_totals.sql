-- Precipitation per city and month (YYYY-MM, UTC), observed and forecast hours apart (Athena engine 3 dialect).
-- Each hour is counted once (weather_hourly holds one row per city and hour); a wet day has at least 1 mm observed.
CREATE OR REPLACE VIEW precipitation_totals AS
WITH daily AS (
    SELECT
        city,
        "date",
        sum(IF(is_forecast, 0, precipitation_mm)) AS observed_mm,
        sum(IF(is_forecast, precipitation_mm, 0)) AS forecast_mm
    FROM weather_hourly
    GROUP BY city, "date"
)
SELECT
    city,
    substr("date", 1, 7) AS "month",
    count(*) AS days,
    round(sum(observed_mm), 2) AS observed_precipitation_mm,
    round(sum(forecast_mm), 2) AS forecast_precipitation_mm,
    count_if(observed_mm >= 1.0) AS wet_days,
    round(max(observed_mm), 2) AS wettest_day_observed_mm
FROM daily
GROUP BY city, substr("date", 1, 7)
