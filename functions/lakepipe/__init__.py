"""lakepipe: serverless data-lake pipeline (CSV → Parquet, weather ingestion) shipped as one Lambda image."""
