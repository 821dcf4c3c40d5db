#!/usr/bin/env python3
"""Drift test: the local cloud (infra/local/resources.py) cannot read the SAM template, so this
asserts that the two agree (resource names for the stack name "imgpipe", index keys, redrive,
notified events), and that every environment variable the template sets is one the code reads,
with every variable the code requires set. Run by `make validate` (part of `make test`)."""

import json
import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "infra" / "local"))
import resources  # noqa: E402

STACK = "imgpipe"
# Where each function's configuration is read, and how a variable is named there.
CONFIG_SOURCES = {
    "ProcessUploadFunction": [ROOT / "shared/src/config.rs"],
    "MetadataApiFunction": [ROOT / "functions/metadata-api/src/config.rs", ROOT / "functions/metadata-api/src/main.rs"],
}
READ = re.compile(r'(?:lookup\(|required\(|number\(\s*&lookup,\s*|var\()\s*"([A-Z][A-Z0-9_]+)"')
REQUIRED = re.compile(r'required\(\s*"([A-Z][A-Z0-9_]+)"\)')
# Read by the runtime or the tracing subscriber rather than by our config code.
RUNTIME_VARIABLES = {"RUST_LOG"}

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


def rendered(value, account_suffix=True):
    """A `!Sub` name as the local cloud spells it: the stack name is imgpipe, and AWS-only
    uniqueness suffixes (the account id of global bucket names) are dropped."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
    text = str(value).replace("${AWS::StackName}", STACK)
    if account_suffix:
        text = text.replace("-${AWS::AccountId}", "")
    return text


def main():
    template = cfn_yaml.load(str(ROOT / "infra" / "template.yaml"))
    res = template["Resources"]
    props = {name: r.get("Properties", {}) for name, r in res.items()}

    for logical, expected in [
        ("UploadsBucket", resources.UPLOADS_BUCKET),
        ("DerivativesBucket", resources.DERIVATIVES_BUCKET),
        ("ImagesTable", resources.TABLE_NAME),
        ("EventsQueue", resources.QUEUE_NAME),
        ("EventsDeadLetterQueue", resources.DLQ_NAME),
    ]:
        key = "TableName" if logical == "ImagesTable" else "QueueName" if "Queue" in logical else "BucketName"
        actual = rendered(props[logical][key])
        check(f"{logical} is named {expected}", actual == expected, f"template gives {actual}")

    table = props["ImagesTable"]
    template_indexes = sorted(
        (
            gsi["IndexName"],
            next(k["AttributeName"] for k in gsi["KeySchema"] if k["KeyType"] == "HASH"),
            next(k["AttributeName"] for k in gsi["KeySchema"] if k["KeyType"] == "RANGE"),
        )
        for gsi in table["GlobalSecondaryIndexes"]
    )
    check("table indexes and their keys agree", template_indexes == sorted(resources.INDEXES),
          f"template {template_indexes} vs local {sorted(resources.INDEXES)}")
    check("table key is id", [k["AttributeName"] for k in table["KeySchema"]] == ["id"])
    template_projections = {g["IndexName"]: g["Projection"] for g in table["GlobalSecondaryIndexes"]}
    check("index projections agree", template_projections == resources.PROJECTIONS,
          f"template {template_projections} vs local {resources.PROJECTIONS}")
    check("table is on demand", table.get("BillingMode") == "PAY_PER_REQUEST")

    redrive = props["EventsQueue"]["RedrivePolicy"]["maxReceiveCount"]
    check("redrive maxReceiveCount agrees", int(redrive) == resources.MAX_RECEIVE_COUNT,
          f"template {redrive} vs local {resources.MAX_RECEIVE_COUNT}")

    notified = sorted(q["Event"] for q in props["UploadsBucket"]["NotificationConfiguration"]["QueueConfigurations"])
    check("uploads bucket notifies the same events", notified == sorted(resources.NOTIFIED_EVENTS),
          f"template {notified} vs local {resources.NOTIFIED_EVENTS}")
    check("derivatives bucket notifies nothing", "NotificationConfiguration" not in props["DerivativesBucket"])

    for function, sources in CONFIG_SOURCES.items():
        code = "\n".join(p.read_text() for p in sources)
        read = set(READ.findall(code)) | RUNTIME_VARIABLES
        required = set(REQUIRED.findall(code))
        env = set(props[function]["Environment"]["Variables"])
        unknown = sorted(env - read)
        missing = sorted(required - env)
        check(f"{function}: every variable set is one the code reads", not unknown, f"unread: {unknown}")
        check(f"{function}: every variable the code requires is set", not missing, f"missing: {missing}")

    local_function_env = {"UPLOADS_BUCKET", "DERIVATIVES_BUCKET", "TABLE_NAME"}
    deployed = set(props["ProcessUploadFunction"]["Environment"]["Variables"])
    check("the local cloud gives process-upload the names the template gives it",
          local_function_env <= deployed, f"{sorted(local_function_env - deployed)}")

    # The dashboard reads the metrics process-upload writes (shared/src/metrics.rs): every
    # metric of the `imgpipe` namespace it charts must be one the code emits.
    emitted = set(re.findall(r'\("(\w+)", "(?:Count|Milliseconds|None|Bytes)"', (ROOT / "shared" / "src" / "metrics.rs").read_text()))
    body, names = props["Dashboard"]["DashboardBody"]["Fn::Sub"]
    text = str(body).replace("${AWS::Region}", "us-east-1")
    for name in names:
        text = text.replace("${" + name + "}", name)
    try:
        widgets = json.loads(text)["widgets"]
        charted = {m[1] for w in widgets for m in w["properties"].get("metrics", []) if m and m[0] == "imgpipe"}
        searched = set(re.findall(r'MetricName=\\?"(\w+)\\?"', text))
        check("the dashboard body is JSON", True)
        check("the dashboard charts only metrics the code emits", bool(charted) and (charted | searched) <= emitted,
              f"charted {sorted(charted | searched)} vs emitted {sorted(emitted)}")
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        check("the dashboard body is JSON", False, str(e))
    alarms = {n: r for n, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    check("alarms on dead letters, errors, queue age and near-timeout durations", {
        "DeadLetterAlarm", "ProcessErrorsAlarm", "ApiErrorsAlarm", "QueueAgeAlarm", "NearTimeoutAlarm"} <= set(alarms),
          f"{sorted(alarms)}")
    check("every alarm notifies the alarm topic when there is one", all(
        a["Properties"].get("AlarmActions") == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
        for a in alarms.values()))

    passed = sum(results)
    print(f"drift: {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
