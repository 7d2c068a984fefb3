"""Replays CAPA v1.4.1's create/delete calls (tests/capa/calls.json) with boto3 through
`iam-conformance gate --role`, as a real client would send them.

Steps: deploy the seed's stack with the administrator's key (through the gate), create the
administrator's fixtures, assume the role through the gate (so the gate learns the session
keys), then make every call of calls.json in order with the session credentials. Each
call carries its id in the `x-iam-conformance-scenario` header (signed like any header),
so the gate's `--log` record of it can be found. Writes one result per call as JSON:
what boto3 parsed (success, or the error code and HTTP status it read).

Run with the moto venv's python (boto3 is installed there with moto):

    python driver.py --endpoint URL --admin-key AKID --admin-secret SECRET \
        --template rendered.json --calls calls.json --out results.json

Talks only to the endpoint it is given; every call is bounded in time and made once
(no retries, so one call is one request and one gate record).
"""

import argparse
import base64
import gzip
import json
import re
import sys
import time
import uuid

import boto3
import botocore.config
import botocore.exceptions
import jmespath

HEADER = "x-iam-conformance-scenario"
REGION = "us-west-2"

# The id of the call being made, put in its request's header by `tag_request`.
CURRENT = {"id": None}


def tag_request(request, **_kwargs):
    if CURRENT["id"] is not None:
        request.headers[HEADER] = CURRENT["id"]


def client_factory(endpoint, creds):
    config = botocore.config.Config(
        region_name=REGION,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"},
    )
    session = boto3.session.Session(
        aws_access_key_id=creds["key"],
        aws_secret_access_key=creds["secret"],
        aws_session_token=creds.get("token"),
        region_name=REGION,
    )
    clients = {}

    def get(service):
        if service not in clients:
            c = session.client(service, endpoint_url=endpoint, config=config)
            c.meta.events.register("before-sign.*.*", tag_request)
            clients[service] = c
        return clients[service]

    return get


def gzipped(text):
    # mtime=0: the same bytes each run (CAPA's bootstrap data is gzipped the same way).
    return gzip.compress(text.encode(), mtime=0)


VAR = re.compile(r"\$\{([A-Za-z0-9_.-]+)\}")


class Missing(Exception):
    pass


def substitute(value, env):
    """`${name}` in strings from what earlier calls saved; `{"$gzip": text}` as gzipped
    bytes; `{"$base64gzip": text}` as the base64 text of gzipped bytes."""
    if isinstance(value, str):
        whole = VAR.fullmatch(value)
        if whole:
            name = whole.group(1)
            if name not in env:
                raise Missing(name)
            return env[name]

        def one(m):
            if m.group(1) not in env:
                raise Missing(m.group(1))
            return str(env[m.group(1)])

        return VAR.sub(one, value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$gzip"}:
            return gzipped(substitute(value["$gzip"], env))
        if set(value) == {"$base64gzip"}:
            return base64.b64encode(gzipped(substitute(value["$base64gzip"], env))).decode()
        return {k: substitute(v, env) for k, v in value.items()}
    return value


def call(get, spec, env):
    """Makes one call; returns its result record."""
    result = {"id": spec["id"], "as": spec.get("as", "role"), "service": spec["service"], "operation": spec["operation"]}
    try:
        params = substitute(spec.get("params", {}), env)
    except Missing as m:
        result.update(outcome="skipped", reason=f"needs `{m.args[0]}`, which no earlier call saved")
        return result
    CURRENT["id"] = spec["id"]
    started = time.monotonic()
    try:
        response = get(spec["service"])._make_api_call(spec["operation"], params)
        result.update(outcome="ok", http_status=response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        for name, path in spec.get("save", {}).items():
            found = jmespath.search(path, response)
            if found is not None:
                env[name] = found
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        result.update(
            outcome="error",
            error_code=err.get("Code"),
            message=(err.get("Message") or "")[:300],
            http_status=e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        )
    except Exception as e:  # an answer boto3 could not read, a timeout, a refused connection
        result.update(outcome="exception", error_code=None, message=f"{type(e).__name__}: {e}"[:300])
    finally:
        CURRENT["id"] = None
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def deploy(get, template, stack, deadline):
    cfn = get("cloudformation")
    CURRENT["id"] = "deploy"
    try:
        cfn.create_stack(StackName=stack, TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"])
        while True:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            if status == "CREATE_COMPLETE":
                return
            if status.endswith("FAILED") or "ROLLBACK" in status:
                raise SystemExit(f"stack {stack} is {status}")
            if time.monotonic() > deadline:
                raise SystemExit(f"stack {stack} still {status} after the deploy's time limit")
            time.sleep(0.5)
    finally:
        CURRENT["id"] = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--admin-key", required=True)
    ap.add_argument("--admin-secret", required=True)
    ap.add_argument("--template", required=True, help="the rendered template (iam-conformance render)")
    ap.add_argument("--calls", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=240, help="time limit of the whole replay")
    args = ap.parse_args()
    deadline = time.monotonic() + args.seconds

    data = json.load(open(args.calls))
    admin = client_factory(args.endpoint, {"key": args.admin_key, "secret": args.admin_secret})
    deploy(admin, open(args.template).read(), data["stack"], deadline)

    env = {"uuid": str(uuid.uuid4()), "cluster": data["cluster"], "account": data["account"]}
    results = []
    role = None
    for spec in data["calls"]:
        if time.monotonic() > deadline:
            results.append({"id": spec["id"], "outcome": "skipped", "reason": "the replay's time limit was reached"})
            continue
        if spec.get("as", "role") == "admin":
            results.append(call(admin, spec, env))
            continue
        if role is None:
            # Assumed through the gate with the administrator's key: the gate learns the
            # session credentials from moto's answer and treats them as the role.
            CURRENT["id"] = "assume-role"
            creds = admin("sts").assume_role(
                RoleArn=data["role_arn"], RoleSessionName="capa-trace", DurationSeconds=3600
            )["Credentials"]
            CURRENT["id"] = None
            role = client_factory(
                args.endpoint,
                {"key": creds["AccessKeyId"], "secret": creds["SecretAccessKey"], "token": creds["SessionToken"]},
            )
        results.append(call(role, spec, env))
    json.dump({"results": results, "saved": sorted(env)}, open(args.out, "w"), indent=1, default=str)
    print(f"driver: {len(results)} calls replayed", file=sys.stderr)


if __name__ == "__main__":
    main()
