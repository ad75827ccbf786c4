"""The one Powertools Logger, Tracer and Metrics of lakepipe; every module imports them from here.

Service name, log level and metrics namespace come from the standard POWERTOOLS_* variables that the template
sets in Globals, so nothing here reads configuration itself.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
