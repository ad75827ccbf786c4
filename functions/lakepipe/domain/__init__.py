"""Pure business logic. Imports neither boto3 nor Powertools event classes, so it is tested without moto."""
