"""Lambda entry points: thin adapters from an AWS event to one domain call."""
