-- Daily mean temperature per city with its 7-day moving average and day-over-day change (Athena engine 3 dialect).
-- The moving average spans the 7 most recent days present up to each day (a gap in the data widens the span).
CREATE OR REPLACE VIEW temperature_trend AS
WITH daily AS (
    SELECT
        city,
        "date",
        avg(temperature_c) AS mean_temperature_c,
        bool_or(is_forecast) AS includes_forecast
    FROM weather_hourly
    GROUP BY city, "date"
)
SELECT
    city,
    "date",
    round(mean_temperature_c, 2) AS mean_temperature_c,
    round(
        avg(mean_temperature_c) OVER (PARTITION BY city ORDER BY "date" ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2
    ) AS mean_temperature_7d_c,
    round(mean_temperature_c - lag(mean_temperature_c) OVER (PARTITION BY city ORDER BY "date"), 2)
        AS change_from_previous_day_c,
    includes_forecast
FROM daily
