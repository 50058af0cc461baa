"""The Lambda entry points, one module each: the S3 trigger and the large-file state machine's three tasks.

Each reads its settings, calls its logic in the engine, and records what happened; `lambda/handler.py` re-exports
them under the names the stack sets as each function's handler (`constants.HANDLER_*`).
"""
