"""Logical IDs of the stateful resources, as first deployed.

Renaming one makes CloudFormation replace the resource and lose its data: change these on purpose only.
"""

UPLOAD_BUCKET_ID = "PipelineUploadBucketB6F6DB3E"
ACCESS_LOGS_BUCKET_ID = "PipelineAccessLogsBucket31EC11F4"
TABLE_ID = "PipelineTable0C1A5F45"
REJECTS_BUCKET_ID = "PipelineRejectsBucket5DFAA92B"
FAILED_EVENTS_QUEUE_ID = "PipelineFailedEventsQueueC91EADD2"
