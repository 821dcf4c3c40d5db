"""The AWS resources of imgpipe, created in an emulator with the names and settings that
infra/ deploys: two buckets, the event queue with its DLQ, the S3 → SQS notification and the
images table with the indexes the metadata API queries."""

import json

UPLOADS_BUCKET = "imgpipe-uploads"
DERIVATIVES_BUCKET = "imgpipe-derivatives"
TABLE_NAME = "imgpipe-images"
QUEUE_NAME = "imgpipe-events"
DLQ_NAME = "imgpipe-events-dlq"
# Lambda's event source retries a message this many times before SQS moves it to the DLQ.
MAX_RECEIVE_COUNT = 3
NOTIFIED_EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]

# Secondary indexes: (name, partition key, sort key). All string keys, all attributes projected.
INDEXES = [
    ("by_upload", "list_pk", "uploaded_at"),
    ("by_camera", "camera", "uploaded_at"),
    ("by_taken", "list_pk", "taken_at"),
    ("by_sha256", "sha256", "uploaded_at"),
] + [(f"by_phash_b{band}", f"phash_b{band}", "uploaded_at") for band in range(5)]
# What each index holds beyond its keys: everything, but for the perceptual-hash bands, which a
# similar-photo search reads only to check the full distance.
PROJECTIONS = {name: {"ProjectionType": "ALL"} for name, _, _ in INDEXES} | {
    f"by_phash_b{band}": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["phash", "status"]}
    for band in range(5)
}

UPLOAD_CORS = {
    "CORSRules": [
        {
            "AllowedMethods": ["PUT"],
            "AllowedOrigins": ["*"],
            "AllowedHeaders": ["content-type", "content-length"],
            "MaxAgeSeconds": 3600,
        }
    ]
}


def create_all(endpoint, region, visibility_timeout):
    """Creates every resource in a fresh emulator and returns the env entries that name them."""
    import boto3  # only the supervisor needs it; `down` and `status` run without the venv

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)

    for bucket in (UPLOADS_BUCKET, DERIVATIVES_BUCKET):
        s3.create_bucket(Bucket=bucket)
    # The gallery uploads from the browser with presigned PUTs (the template sets the same rule
    # when uploads are on); the local cloud's API has no fixed origin, so any origin may.
    s3.put_bucket_cors(Bucket=UPLOADS_BUCKET, CORSConfiguration=UPLOAD_CORS)

    dlq_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    queue_url = sqs.create_queue(
        QueueName=QUEUE_NAME,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    arn = queue_arn(sqs, queue_url)
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps(queue_policy(arn, UPLOADS_BUCKET))},
    )
    # Only the uploads bucket notifies: variants written to the derivatives bucket raise nothing.
    s3.put_bucket_notification_configuration(
        Bucket=UPLOADS_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": NOTIFIED_EVENTS}]
        },
    )
    # The notification's s3:TestEvent is not an upload; drop it so the queue starts empty.
    sqs.purge_queue(QueueUrl=queue_url)

    key_names = sorted({"id"} | {k for _, pk, sk in INDEXES for k in (pk, sk)})
    dynamodb.create_table(
        TableName=TABLE_NAME,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in key_names],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": PROJECTIONS[name],
            }
            for name, pk, sk in INDEXES
        ],
    )
    # Drops the markers of uploads the API issued that never came (as the template does).
    dynamodb.update_time_to_live(
        TableName=TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at_epoch"},
    )
    return {
        "UPLOADS_BUCKET": UPLOADS_BUCKET,
        "DERIVATIVES_BUCKET": DERIVATIVES_BUCKET,
        "TABLE_NAME": TABLE_NAME,
        "QUEUE_URL": queue_url,
        "QUEUE_ARN": arn,
        "DLQ_URL": dlq_url,
    }


def queue_arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_policy(queue, bucket):
    """What AWS requires for S3 to send to the queue (moto does not enforce it; AWS does)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
