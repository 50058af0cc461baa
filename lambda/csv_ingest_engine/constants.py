"""Facts shared by the stack, the function and the command line, written once; imports nothing but the standard library.

The stack imports this module too (it is pure Python, so no CDK reaches the function's bundle and no AWS SDK
reaches the synth).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# The table's partition key when nothing else is configured, and so the column every CSV must have.
DEFAULT_KEY_COLUMN: Final = "customer_id"

# merge: one UpdateItem per row, keeping the item's other attributes (an upsert). replace: puts of whole items,
# for initial loads into an empty table (one conditional PutItem per row when stamped with the upload's order,
# BatchWriteItem otherwise). changed: merge's update, sent only for the rows that would change their item, as read
# back in BatchGetItem requests of up to 100 keys (for re-uploads of a whole export where few rows changed).
WriteMode = Literal["merge", "replace", "changed"]
WRITE_MODES: Final[tuple[WriteMode, ...]] = get_args(WriteMode)
DEFAULT_WRITE_MODE: Final[WriteMode] = "merge"

# What a column's cells become in DynamoDB (opt-in per column; every column is a string by default, so nothing is
# lost): S a string as written, N a number (sent as written), BOOL true/false, JSON the value's native type.
ColumnType = Literal["S", "N", "BOOL", "JSON"]
COLUMN_TYPES: Final[tuple[ColumnType, ...]] = get_args(ColumnType)
# The types DynamoDB allows for a key attribute (B: binary, written in the CSV as base64).
KeyType = Literal["S", "N", "B"]
KEY_TYPES: Final[tuple[KeyType, ...]] = get_args(KeyType)
DEFAULT_KEY_TYPE: Final[KeyType] = "S"

# The files read: comma-separated UTF-8 (a byte-order mark optional) unless configured otherwise. Delimiters by the
# name the stack's context and the command line accept; "tab" (or a literal tab) is a tab.
DELIMITERS: Final = {",": ",", ";": ";", "|": "|", "tab": "\t", "\t": "\t"}
DEFAULT_DELIMITER: Final = ","
# Encodings by the names accepted; utf-16 needs a byte-order mark (it says which byte order).
ENCODINGS: Final = ("utf-8", "cp1252", "latin-1", "utf-16")
DEFAULT_ENCODING: Final = "utf-8"
# Objects (and files) with these name endings are ingested; .gz ones are gunzipped as they are read.
CSV_SUFFIXES: Final = (".csv", ".csv.gz")
# The most cells one record may have, empty ones included (a row with more is rejected; a header with more fails
# the file): memory holds every cell of a record, and a row of hundreds of millions of delimiters must not exhaust
# it. The default is four times Excel's (and LibreOffice's) 16,384 columns. The setting goes at most to the most
# attributes an item could ever have: an item is at most 400 KB (409,600 bytes of names and values) and each
# attribute's name takes at least a byte, so no row with more cells than that could be written whole.
DEFAULT_MAX_CELLS: Final = 65_536
MAX_CELLS_CEILING: Final = 409_600

# Writer threads per file. Measured with benchmarks/run.py on 2 cores (see benchmarks/README.md): 16 keep `merge`
# near the SDK's CPU limit at 5-20 ms per request; past a few dozen the GIL costs more than the extra requests in
# flight gain.
DEFAULT_CONCURRENCY: Final = 16
MIN_CONCURRENCY: Final = 1
MAX_CONCURRENCY: Final = 64

# Powertools' service name and metrics namespace: the function's EMF metrics and the alarms and dashboard that
# read them must agree on both.
SERVICE_NAME: Final = "csv-ingest"
METRICS_NAMESPACE: Final = "CsvIngest"
METRIC_ROWS_WRITTEN: Final = "RowsWritten"
METRIC_ROWS_REJECTED: Final = "RowsRejected"
METRIC_FILES_PROCESSED: Final = "FilesProcessed"
METRIC_FILES_FAILED: Final = "FilesFailed"
METRIC_ROWS_SUPERSEDED: Final = "RowsSuperseded"
METRIC_ROWS_UNCHANGED: Final = "RowsUnchanged"
METRIC_ROWS_DELETED: Final = "RowsDeleted"
# A file's outcome that could not be tagged on its object, or sent to EventBridge (the file's own result stands).
METRIC_OUTCOME_TAGS_NOT_WRITTEN: Final = "OutcomeTagsNotWritten"
METRIC_OUTCOME_EVENTS_NOT_SENT: Final = "OutcomeEventsNotSent"

# Attributes the pipeline adds to items for its own bookkeeping start with this, so that users and tools can tell
# them from a file's columns (and `--export` and the demo leave them out).
BOOKKEEPING_PREFIX: Final = "_csv_ingest"
# The attribute that carries, on every item written, the order stamp of the upload that last wrote it: a row of an
# older upload does not overwrite it (see `ordering`). Its name is a setting (context order_attribute).
DEFAULT_ORDER_ATTRIBUTE: Final = f"{BOOKKEEPING_PREFIX}_order"

# The functions' environment: set by the stack from resource attributes, read by `settings` (one class per function).
ENV_TABLE_NAME: Final = "TABLE_NAME"
ENV_KEY_COLUMN: Final = "KEY_COLUMN"
ENV_REJECTS_BUCKET: Final = "REJECTS_BUCKET"
ENV_WRITE_MODE: Final = "WRITE_MODE"
ENV_WRITE_CONCURRENCY: Final = "WRITE_CONCURRENCY"
# "true": `changed` reads items back with strongly consistent reads (left out when false, the default).
ENV_CONSISTENT_READS: Final = "CONSISTENT_READS"
# The table's key schema beyond its partition key's column, and the column types (a JSON object, column -> type).
ENV_KEY_TYPE: Final = "KEY_TYPE"
ENV_SORT_KEY_COLUMN: Final = "SORT_KEY_COLUMN"
ENV_SORT_KEY_TYPE: Final = "SORT_KEY_TYPE"
ENV_COLUMN_TYPES: Final = "COLUMN_TYPES"
# The delete-marker column: a row whose cell there is `true` deletes its item (left out: no column deletes).
ENV_DELETE_COLUMN: Final = "DELETE_COLUMN"
# The files' format (see DELIMITERS and ENCODINGS).
ENV_CSV_DELIMITER: Final = "CSV_DELIMITER"
ENV_CSV_ENCODING: Final = "CSV_ENCODING"
ENV_CSV_MAX_CELLS: Final = "CSV_MAX_CELLS"
# "off": no order stamp on the items, and no condition on the writes (left out when on, the default).
ENV_ORDERING: Final = "ORDERING"
ENV_ORDER_ATTRIBUTE: Final = "ORDER_ATTRIBUTE"
# The large-file path (Step Functions): the trigger function starts the state machine for objects over the
# threshold; the partition task cuts the file into partition objects in the work bucket.
ENV_STATE_MACHINE_ARN: Final = "STATE_MACHINE_ARN"
ENV_LARGE_FILE_BYTES: Final = "LARGE_FILE_BYTES"
ENV_WORK_BUCKET: Final = "WORK_BUCKET"
ENV_PARTITION_BYTES: Final = "PARTITION_BYTES"
# How many of a file's rejected rows its log names (see DEFAULT_LOGGED_REJECTIONS).
ENV_LOGGED_REJECTIONS: Final = "LOGGED_REJECTIONS"

# The Lambda entry points in lambda/handler.py, one per job: the S3 trigger and the state machine's three tasks.
HANDLER_TRIGGER: Final = "handler"
HANDLER_PARTITION: Final = "partition"
HANDLER_INGEST_PARTITION: Final = "ingest_partition"
HANDLER_FINISH: Final = "finish"

# Objects larger than this go through the state machine instead of one invocation. A file at the threshold must
# finish in well under half the 15-minute timeout: at the measured ~1,000 upserts/s of one vCPU and rows as short
# as 32 bytes, 8 MiB is ~262,000 rows, ~4.4 minutes (see the README's "Large files").
DEFAULT_LARGE_FILE_BYTES: Final = 8 * 1024 * 1024
# The target size of one partition: one worker invocation writes it in a few minutes at the same rate.
DEFAULT_PARTITION_BYTES: Final = 8 * 1024 * 1024
# At most this many partitions per file (bigger partitions beyond that). The list is a manifest object in the work
# bucket, not the execution's state; the bound is what the Partition task holds (a buffer per partition, see
# `partitioning.ChunkedPartitions`) and the hours the Map takes at `max_workers` (see the README's limits).
MAX_PARTITIONS: Final = 10_000
# Partitions written at once (the Distributed Map's concurrency): workers x rows/s per worker must stay within
# the table's write capacity; a new on-demand table takes 4,000 writes/s, four workers at ~1,000 rows/s each.
DEFAULT_MAX_WORKERS: Final = 4
# The command line's worker processes (`load --workers`): the machine's CPUs, at most this many.
MAX_CLI_WORKERS: Final = 8

# A file's log names its first rejected rows, this many (line, key and reason), then counts them all: its volume is
# bounded whatever the rows (every rejected row is in the rejects report). At most MAX_LOGGED_REJECTIONS.
DEFAULT_LOGGED_REJECTIONS: Final = 20
MAX_LOGGED_REJECTIONS: Final = 1000

# The function stops reading this long before Lambda's timeout, to leave time for the rejects report, the metrics
# and the summary; the stack keeps the timeout well above it.
DEADLINE_MARGIN_MS: Final = 30_000

# Throttling is the normal state of a bulk load: the writer sends throttled rows again, backing off, for as long as
# the table takes any write at all, and fails them only after this long without one (or at the deadline, sooner).
WRITE_PATIENCE_S: Final = 180.0

# Every file the pipeline concludes, loaded or failed, is announced where people look (see `outcome`): an event on
# the account's default EventBridge bus, from OUTCOME_EVENT_SOURCE, with the detail type of its status, and the same
# outcome as tags on the uploaded object version.
OutcomeStatus = Literal["loaded", "loaded-with-rejected-rows", "failed"]
OUTCOME_STATUSES: Final[tuple[OutcomeStatus, ...]] = get_args(OutcomeStatus)
OUTCOME_LOADED: Final[OutcomeStatus] = "loaded"
OUTCOME_REJECTED_ROWS: Final[OutcomeStatus] = "loaded-with-rejected-rows"
OUTCOME_FAILED: Final[OutcomeStatus] = "failed"
OUTCOME_EVENT_SOURCE: Final = "csv-ingest"
OUTCOME_EVENT_BUS: Final = "default"
OUTCOME_DETAIL_TYPES: Final[dict[OutcomeStatus, str]] = {
    OUTCOME_LOADED: "CSV file loaded",
    OUTCOME_REJECTED_ROWS: "CSV file loaded with rejected rows",
    OUTCOME_FAILED: "CSV file failed",
}
# The path a file took: ingested by the invocation its upload started, or by the large-file state machine.
IngestPath = Literal["one-invocation", "state-machine"]
PATH_ONE_INVOCATION: Final[IngestPath] = "one-invocation"
PATH_STATE_MACHINE: Final[IngestPath] = "state-machine"
# The counts an outcome carries, each read by its name from the file's summary, or from its error (0 where it has
# none): the event's detail has each, the rows tag all of them; a new count joins both by being named here.
OUTCOME_COUNTS: Final = (
    "rows_written",
    "rows_rejected",
    "rows_superseded",
    "rows_failed",
    "rows_unchanged",
    "rows_deleted",
)
# A failed file's message, in the event, is cut to this many characters (the whole message is in the function's
# log): with a key of S3's longest 1,024 bytes, an event stays far below EventBridge's 256 KB.
MAX_OUTCOME_ERROR_CHARS: Final = 4096
# The outcome's tags: their keys start with the prefix, which marks them as the pipeline's own (every other tag of
# the object is the user's, and is kept). S3 takes at most S3_MAX_OBJECT_TAGS tags per object version.
OUTCOME_TAG_PREFIX: Final = "csv-ingest:"
TAG_STATUS: Final = f"{OUTCOME_TAG_PREFIX}status"
TAG_ROWS: Final = f"{OUTCOME_TAG_PREFIX}rows"
TAG_TIME: Final = f"{OUTCOME_TAG_PREFIX}time"
TAG_REJECTS_BUCKET: Final = f"{OUTCOME_TAG_PREFIX}rejects-bucket"
S3_MAX_OBJECT_TAGS: Final = 10

# Exit codes of `csv-ingest load / validate / demo` (and `status`, for the outcome it finds).
EXIT_OK: Final = 0  # every row written (or valid)
EXIT_FAILED: Final = 1  # the file failed as a whole
EXIT_REJECTED: Final = 2  # the file went in, but some rows were rejected
EXIT_NO_OUTCOME: Final = 3  # status: the object has no outcome yet (being ingested, or never ingested)
EXIT_USAGE: Final = 64  # sysexits' EX_USAGE: click's own 2 would read as "rows rejected"
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT: Ctrl-C, as a shell reports it
