-- Daily weather per city and UTC day, from weather_hourly (Athena engine 3 dialect).
-- forecast_hours counts the hours that were still a forecast when last fetched; 24 - forecast_hours were observed.
CREATE OR REPLACE VIEW daily_weather_by_city AS
SELECT
    city,
    "date",
    count(*) AS hours,
    count_if(is_forecast) AS forecast_hours,
    min(temperature_c) AS min_temperature_c,
    max(temperature_c) AS max_temperature_c,
    round(avg(temperature_c), 2) AS mean_temperature_c,
    round(sum(precipitation_mm), 2) AS precipitation_mm,
    round(avg(relative_humidity_pct), 1) AS mean_relative_humidity_pct,
    round(max(wind_speed_kmh), 1) AS max_wind_speed_kmh,
    round(avg(pressure_msl_hpa), 1) AS mean_pressure_msl_hpa,
    round(avg(cloud_cover_pct), 1) AS mean_cloud_cover_pct,
    max(weather_code) AS max_weather_code
FROM weather_hourly
GROUP BY city, "date"
