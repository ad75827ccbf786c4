"""Weather ingestion domain: cities, Open-Meteo requests and responses, landing keys, manifests, backfill plans.

Pure Python: no boto3, no requests, no Powertools. The API client and the landing store are injected (see
:mod:`lakepipe.domain.weather.ingest`), so every rule here is tested without a network or moto.
"""
