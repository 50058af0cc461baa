"""The emulated AWS that `csv-ingest demo` and ./run-local.sh run on (moto, in this process): S3 events as S3 sends
them, the Lambda functions and the large-file state machine run in process, the demo's account. Needs the `demo`
extra."""
