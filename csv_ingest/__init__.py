"""csv-ingest: the CDK constructs (infra/) and the command line (cli/)."""
