#!/usr/bin/env python3
"""Security checks on the SAM template, the claims SECURITY.md makes about the deployment:
buckets private, encrypted and TLS-only; every IAM statement an Allow of named actions on named
resources; the functions' environment free of literal secrets; GPS private and presigned links
short-lived by default. Run by `make validate` (part of `make test`). Offline: it reads the
template, it does not ask AWS."""

import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[1]
# The longest default lifetime of a presigned variant link we accept, in seconds.
MAX_DEFAULT_PRESIGN_SECONDS = 900

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


def as_list(value):
    return value if isinstance(value, list) else [value]


def refs(value):
    """Logical ids a value points at through Ref, GetAtt or Sub."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(str(inner))
            elif key == "Fn::GetAtt":
                found.add(str(inner[0] if isinstance(inner, list) else str(inner).split(".")[0]))
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for part in str(text).split("${")[1:]:
                    found.add(part.split("}")[0].split(".")[0])
            else:
                found |= refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs(inner)
    return found


def statements(document):
    """A policy's statements, both branches of a conditional one (`Fn::If`) included."""
    for st in document["Statement"]:
        if isinstance(st, dict) and "Fn::If" in st:
            for branch in st["Fn::If"][1:]:
                if isinstance(branch, dict) and branch != {"Ref": "AWS::NoValue"}:
                    yield branch
        else:
            yield st


# Routes anyone may call, even on a deployment with an authorizer.
PUBLIC_ROUTES = {"GET /health", "GET /openapi.json", "GET /", "GET /gallery.css", "GET /gallery.js", "OPTIONS /{proxy+}"}


def main():
    # Another template may be named, to see a check fail.
    path = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "infra" / "template.yaml")
    template = cfn_yaml.load(path)
    res = template["Resources"]
    params = template.get("Parameters", {})
    of_type = lambda kind: {n: r for n, r in res.items() if r["Type"] == kind}  # noqa: E731

    buckets = of_type("AWS::S3::Bucket")
    policies = of_type("AWS::S3::BucketPolicy")
    check("the template has buckets to check", len(buckets) >= 2)
    for name, bucket in buckets.items():
        p = bucket.get("Properties", {})
        block = p.get("PublicAccessBlockConfiguration", {})
        flags = ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"]
        check(f"{name}: all four public access blocks on", all(block.get(f) is True for f in flags), f"{block}")
        rules = p.get("OwnershipControls", {}).get("Rules", [])
        check(f"{name}: ACLs disabled (BucketOwnerEnforced)", any(r.get("ObjectOwnership") == "BucketOwnerEnforced" for r in rules))
        check(f"{name}: encrypted at rest", bool(p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")))
        tls_only = False
        for policy in policies.values():
            pp = policy["Properties"]
            if name not in refs(pp["Bucket"]):
                continue
            for st in pp["PolicyDocument"]["Statement"]:
                denies_plain = (
                    st.get("Effect") == "Deny"
                    and st.get("Principal") == "*"
                    and "s3:*" in as_list(st.get("Action"))
                    and str(st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
                )
                covered = [refs(r) for r in as_list(st.get("Resource"))]
                bucket_and_objects = len(covered) >= 2 and all(name in c for c in covered)
                tls_only = tls_only or (denies_plain and bucket_and_objects)
        check(f"{name}: a bucket policy denies every request without TLS, on the bucket and its objects", tls_only)
        check(f"{name}: no bucket policy grants anything", not any(
            st.get("Effect") == "Allow"
            for policy in policies.values() if name in refs(policy["Properties"]["Bucket"])
            for st in policy["Properties"]["PolicyDocument"]["Statement"]
        ))

    roles = of_type("AWS::IAM::Role")
    check("the template has roles to check", len(roles) >= 2)
    for name, role in roles.items():
        p = role["Properties"]
        trusted = [st.get("Principal", {}).get("Service") for st in p["AssumeRolePolicyDocument"]["Statement"]]
        check(f"{name}: only Lambda may assume it", trusted == ["lambda.amazonaws.com"], f"{trusted}")
        check(f"{name}: no managed policies", not p.get("ManagedPolicyArns"))
        for policy in p.get("Policies", []):
            for st in statements(policy["PolicyDocument"]):
                sid = st.get("Sid", "?")
                actions = as_list(st.get("Action"))
                resources = as_list(st.get("Resource"))
                check(f"{name}/{sid}: an Allow", st.get("Effect") == "Allow")
                check(f"{name}/{sid}: named actions, no wildcards", all("*" not in a for a in actions), f"{actions}")
                # X-Ray takes no resource but "*" (AWS documents no resource-level permissions for
                # it); that and only that is allowed a wildcard resource.
                xray_only = all(a in ("xray:PutTraceSegments", "xray:PutTelemetryRecords") for a in actions)
                check(f"{name}/{sid}: only resources of this stack", xray_only or all(r != "*" and refs(r) for r in resources), f"{resources}")

    functions = of_type("AWS::Serverless::Function")
    secret_names = ("SECRET", "PASSWORD", "TOKEN", "KEY")
    for name, function in functions.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for var, value in variables.items():
            if any(word in var for word in secret_names):
                literal = isinstance(value, (str, int, float))
                check(f"{name}: {var} is no literal in the template", not literal, f"{value!r}")

    check("GPS is private by default (ExposeGps defaults to false)", str(params.get("ExposeGps", {}).get("Default")) == "false")
    presign = int(params.get("PresignSeconds", {}).get("Default", 10**9))
    check(f"presigned links default to at most {MAX_DEFAULT_PRESIGN_SECONDS} s", presign <= MAX_DEFAULT_PRESIGN_SECONDS, f"{presign}")
    check("no CORS origin allowed by default", str(params.get("CorsOrigins", {}).get("Default")) == "")
    for name, queue in of_type("AWS::SQS::Queue").items():
        check(f"{name}: encrypted at rest", queue["Properties"].get("SqsManagedSseEnabled") is True)
    for name, table in of_type("AWS::DynamoDB::Table").items():
        check(f"{name}: encrypted at rest", table["Properties"].get("SSESpecification", {}).get("SSEEnabled") is True)

    routes = of_type("AWS::ApiGatewayV2::Route")
    check("the template has API routes to check", len(routes) >= 5)
    for name, route in routes.items():
        p = route["Properties"]
        key = p["RouteKey"]
        if key in PUBLIC_ROUTES:
            check(f"{name} ({key}): public by design, no authorizer", "AuthorizerId" not in p)
        elif route.get("Condition") == "UseJwt":
            check(f"{name} ({key}): only with an authorizer, and behind it",
                  p.get("AuthorizationType") == "JWT" and p.get("AuthorizerId") == {"Ref": "JwtAuthorizer"}, f"{p}")
        else:
            check(f"{name} ({key}): behind the JWT authorizer whenever there is one",
                  p.get("AuthorizationType") == {"Fn::If": ["UseJwt", "JWT", "NONE"]}
                  and p.get("AuthorizerId") == {"Fn::If": ["UseJwt", {"Ref": "JwtAuthorizer"}, {"Ref": "AWS::NoValue"}]}, f"{p}")
    uploads_routes = [r for r in routes.values() if r["Properties"]["RouteKey"].startswith("POST /uploads")]
    check("POST /uploads exists only on deployments with an authorizer",
          bool(uploads_routes) and all(r.get("Condition") == "UseJwt" for r in uploads_routes))
    api_env = res["MetadataApiFunction"]["Properties"]["Environment"]["Variables"]
    check("the API issues uploads only with an authorizer (UPLOADS_BUCKET under UseJwt)",
          api_env.get("UPLOADS_BUCKET", {}).get("Fn::If", [None])[0] == "UseJwt", f"{api_env.get('UPLOADS_BUCKET')}")
    cors = res["UploadsBucket"]["Properties"].get("CorsConfiguration")
    check("the uploads bucket allows browser uploads only with an authorizer",
          cors is None or (isinstance(cors, dict) and cors.get("Fn::If", [None])[0] == "UseJwt"), f"{cors}")
    stages = of_type("AWS::ApiGatewayV2::Stage")
    check("every API stage throttles its routes", bool(stages) and all(
        {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(s_["Properties"].get("DefaultRouteSettings", {}))
        for s_ in stages.values()))

    passed = sum(results)
    print(f"security: {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
