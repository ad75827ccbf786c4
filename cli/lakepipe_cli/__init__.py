"""lakepipe's developer CLI: the local demo, Athena SQL on the local lake, and weather backfill."""
