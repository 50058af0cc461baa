"""Logical IDs of the stateful resources, as first deployed.

Renaming one makes CloudFormation replace the resource and lose its data: change these on purpose only.
"""

UPLOAD_BUCKET_ID = "PipelineUploadBucketB6F6DB3E"
ACCESS_LOGS_BUCKET_ID = "PipelineAccessLogsBucket31EC11F4"
TABLE_ID = "PipelineTable0C1A5F45"
REJECTS_BUCKET_ID = "PipelineRejectsBucket5DFAA92B"
FAILED_EVENTS_QUEUE_ID = "PipelineFailedEventsQueueC91EADD2"

# Attached to the data, one per bucket or queue. A replacement creates the new one, then deletes the old one, which
# strips the bucket's or queue's policy or the upload trigger, or (auto-delete, without retain_data) empties the bucket.
UPLOAD_BUCKET_POLICY_ID = "PipelineUploadBucketPolicy0E939276"
ACCESS_LOGS_BUCKET_POLICY_ID = "PipelineAccessLogsBucketPolicy3AEEDE7E"
REJECTS_BUCKET_POLICY_ID = "PipelineRejectsBucketPolicyD3B34E9A"
FAILED_EVENTS_QUEUE_POLICY_ID = "PipelineFailedEventsQueuePolicyE19C6771"
UPLOAD_BUCKET_NOTIFICATIONS_ID = "PipelineUploadBucketNotificationsB845DE8F"
UPLOAD_BUCKET_AUTO_DELETE_ID = "PipelineUploadBucketAutoDeleteObjectsCustomResource862E9E40"
ACCESS_LOGS_BUCKET_AUTO_DELETE_ID = "PipelineAccessLogsBucketAutoDeleteObjectsCustomResource4116603B"
REJECTS_BUCKET_AUTO_DELETE_ID = "PipelineRejectsBucketAutoDeleteObjectsCustomResourceFF6B435F"
# Holds the confirmed e-mail subscriptions: a new topic notifies no one until its new confirmation is clicked.
ALARM_TOPIC_ID = "PipelineAlarmTopicD2AEE5E8"
# The function keeps its ID so events queued for it are never dropped with a replaced function, its log group so
# the week of logs survives, the dashboard so its name (a stack output people bookmark) stays.
FUNCTION_ID = "PipelineFunction478EC3AB"
FUNCTION_LOG_GROUP_ID = "PipelineFunctionLogs0A037C02"
DASHBOARD_ID = "PipelineDashboard5FF69C30"

# The large-file path, recorded from its first deployment on. Replacing the state machine loses its executions'
# history, and with it the redrive of a failed file; replacing the work bucket fails the executions in flight.
WORK_BUCKET_ID = "PipelineWorkBucket6892410F"
STATE_MACHINE_ID = "PipelineLargeFilesStateMachineDFEF873B"

# With encryption=kms: a replaced key would leave everything written before encrypted under the old one, scheduled
# for deletion with the stack's update.
DATA_KEY_ID = "PipelineDataKeyA5C7FABC"
