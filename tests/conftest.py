"""Settings every test shares, made before any test module imports the function."""

import os

from csv_ingest_engine.constants import METRICS_NAMESPACE, SERVICE_NAME

# What the stack sets for Powertools: the function has no fallback of its own (Metrics cannot flush without a
# namespace), so the tests set them as the deployed function has them.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", SERVICE_NAME)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE)
