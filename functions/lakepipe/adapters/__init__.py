"""The only place that creates AWS clients; handlers inject them into the domain."""
