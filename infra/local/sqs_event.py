"""The event Lambda's SQS event source mapping hands a function: received messages as records.
Shared by the local cloud's bridge and the arm64 smoke run."""


def lambda_sqs_event(messages, queue_arn, region):
    """`{"Records": [...]}` for SQS messages received with `AttributeNames=["All"]`."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }
