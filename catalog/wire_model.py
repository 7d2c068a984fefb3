#!/usr/bin/env python3
"""Regenerate catalog/wire-model.json from botocore's service models.

The wire model is what crates/core/src/wire/ needs to turn (service, operation,
JSON input) into the HTTP request body AWS expects, and back, and to read the
answers: a trimmed copy of botocore's data/<service>/<apiVersion>/service-2.json(.gz)
(the metadata that picks the wire protocol, the operations this project sends,
the input shapes reachable from them, and the output shapes of the operations
whose answers are read), with the paginators (paginators-1.json) of those
operations and the waiters (waiters-2.json) the project waits with.

Usage:
    python3 catalog/wire_model.py                  # botocore of the moto venv
    python3 catalog/wire_model.py --botocore DIR   # DIR is the botocore package
    python3 catalog/wire_model.py --out PATH       # write somewhere else

Python 3.11 standard library only. See catalog/WIRE-MODEL.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tomllib
from pathlib import Path

DEFAULT_BOTOCORE = Path(
    "/root/.cache/iam-conformance/moto-5.2.5/lib/python3.11/site-packages/botocore"
)

# (our service prefix, botocore service name, pinned API version)
SERVICES = [
    ("autoscaling", "autoscaling", "2011-01-01"),
    ("cloudformation", "cloudformation", "2010-05-15"),
    ("ec2", "ec2", "2016-11-15"),
    ("elasticloadbalancing", "elb", "2012-06-01"),
    ("iam", "iam", "2010-05-08"),
    ("secretsmanager", "secretsmanager", "2017-10-17"),
    ("sts", "sts", "2011-06-15"),
    ("tag", "resourcegroupstaggingapi", "2017-01-26"),
]

# Wire protocols src/wire/ implements. A model whose primary protocol is
# something else (resourcegroupstaggingapi: smithy-rpc-v2-cbor) is read with
# the first of these found in its "protocols" list.
SUPPORTED_PROTOCOLS = ["json", "query", "ec2"]

# Operations needed besides the ones the scenario files use (the set-up and
# inspection calls of the HTTP runner).
EXTRA_OPERATIONS = {
    "cloudformation": [
        "CreateStack", "DescribeStacks", "DeleteStack", "DescribeStackEvents",
        # sweep: the roles and instance profiles a tagged stack manages go with it.
        "ListStackResources",
    ],
    "iam": [
        "GetRole", "GetInstanceProfile", "ListAttachedRolePolicies", "ListRolePolicies",
        "GetRolePolicy", "GetPolicy", "GetPolicyVersion", "CreateRole",
        "CreateInstanceProfile", "AddRoleToInstanceProfile", "DeleteRole",
        "DeleteInstanceProfile", "RemoveRoleFromInstanceProfile", "DetachRolePolicy",
        "DeletePolicy", "CreateServiceLinkedRole",
        # --target aws: the simulator oracle, a user's attached policies, sweep.
        "SimulatePrincipalPolicy", "ListAttachedUserPolicies", "ListUserPolicies",
        "ListGroupsForUser", "DeleteServiceLinkedRole", "ListRoleTags", "ListRoles", "TagRole",
        "GetServiceLinkedRoleDeletionStatus",
        # Tests: an IAM user holding the stack's policy (`--principal user`).
        "CreateUser", "AttachUserPolicy", "CreateAccessKey",
        # sweep: the roles and instance profiles fixtures create (and the sweep test's
        # managed policy).
        "TagInstanceProfile", "ListInstanceProfiles", "ListInstanceProfileTags",
        "ListInstanceProfilesForRole", "DeleteRolePolicy", "CreatePolicy",
    ],
    "sts": ["AssumeRole", "GetCallerIdentity", "DecodeAuthorizationMessage"],
    "ec2": [
        "DescribeLaunchTemplateVersions", "DescribeInstances", "CreateKeyPair", "DeleteKeyPair",
        "DeleteVolume", "DescribeImages", "DescribeRouteTables", "DescribeAddresses",
        # --target aws: tagging what a run creates, and sweep.
        "CreateTags", "DescribeVpcs", "DescribeSubnets", "DescribeInternetGateways",
        "DescribeNatGateways", "DescribeSecurityGroups", "DescribeLaunchTemplates",
        "DescribeVolumes", "DescribeKeyPairs", "DeleteLaunchTemplate", "DetachInternetGateway",
        "DeleteInternetGateway", "DeleteNatGateway", "ReleaseAddress", "DisassociateAddress",
        "DeleteRouteTable", "DisassociateRouteTable", "DeleteSubnet", "DeleteSecurityGroup",
        "DeleteVpc", "TerminateInstances",
    ],
    "autoscaling": [
        "DescribeAutoScalingInstances", "DescribeAutoScalingGroups", "CreateOrUpdateTags",
        "DeleteAutoScalingGroup",
    ],
    "elasticloadbalancing": ["DescribeLoadBalancers", "DescribeTags", "AddTags", "DeleteLoadBalancer"],
    "secretsmanager": ["ListSecrets", "TagResource", "DeleteSecret", "DescribeSecret"],
}

# Operations whose answers are read (their output shapes, result wrappers and
# paginators are kept), besides those with `produces` in the scenario files,
# which are added by scenario_operations. Grep `wire::parse_response` /
# `wire::output` for the readers.
READ_OPERATIONS = {
    "cloudformation": ["DescribeStacks", "ListStackResources"],
    "iam": [
        # run: reading back the deployed role and its policies.
        "GetRole", "ListAttachedRolePolicies", "GetPolicy", "GetPolicyVersion",
        "ListRolePolicies", "GetRolePolicy",
        # --target aws: the user principal's check, the simulator oracle.
        "ListAttachedUserPolicies", "ListUserPolicies", "ListGroupsForUser",
        "SimulatePrincipalPolicy",
        # sweep: listings, what holds a role, service-linked role deletion.
        "ListRoles", "ListInstanceProfiles", "ListRoleTags", "ListInstanceProfileTags",
        "ListInstanceProfilesForRole", "DeleteServiceLinkedRole",
        "GetServiceLinkedRoleDeletionStatus",
        # What a run creates (created_named), the gate's directory, tests.
        "CreateServiceLinkedRole", "GetInstanceProfile", "CreatePolicy", "CreateAccessKey",
        # The gate's record: a created role's or instance profile's ARN.
        "CreateRole", "CreateInstanceProfile",
    ],
    "sts": ["AssumeRole", "GetCallerIdentity", "DecodeAuthorizationMessage"],
    "ec2": [
        # sweep: the listings (EC2_LISTINGS) and the security groups' rules.
        "DescribeInstances", "DescribeNatGateways", "DescribeAddresses", "DescribeRouteTables",
        "DescribeInternetGateways", "DescribeSubnets", "DescribeSecurityGroups", "DescribeVpcs",
        "DescribeLaunchTemplates", "DescribeKeyPairs", "DescribeVolumes",
        # The gate's directory (launch templates; a network interface's tags); the
        # sweep test's key pair.
        "DescribeLaunchTemplateVersions", "DescribeNetworkInterfaces", "CreateKeyPair",
        # The gate's record: a new launch template version's number.
        "CreateLaunchTemplateVersion",
    ],
    "autoscaling": ["DescribeAutoScalingGroups", "DescribeAutoScalingInstances"],
    "elasticloadbalancing": ["DescribeLoadBalancers", "DescribeTags"],
    "secretsmanager": ["ListSecrets", "CreateSecret"],
}

# The waiters the project waits with, by botocore name (waiters-2.json). Each one's
# operation must be a read operation.
WAITERS = {
    "cloudformation": ["StackCreateComplete", "StackDeleteComplete"],
    "ec2": ["InstanceTerminated", "NatGatewayDeleted"],
}

# The JMESPath a waiter argument may use (crates/core/src/wire/search.rs): member
# names and `[]` joined by dots, optionally in length(...), optionally compared
# with a literal.
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(\[\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\])?)*"
ARGUMENT_RE = re.compile(
    rf"^(({_PATH})|length\(({_PATH})\))( (==|!=|<|<=|>|>=) `[^`]*`)?$"
)

SCALAR_TYPES = {"string", "integer", "long", "boolean", "float", "double", "timestamp", "blob"}
CONTAINER_TYPES = {"structure", "list", "map"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr)


def botocore_version(botocore: Path) -> str:
    text = (botocore / "__init__.py").read_text()
    m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if not m:
        sys.exit(f"error: no __version__ in {botocore / '__init__.py'}")
    return m.group(1)


def load_extra(botocore: Path, name: str, version: str, file: str, key: str) -> tuple[dict, str | None]:
    """The `key` table of paginators-1.json / waiters-2.json, if the service has the file."""
    path = botocore / "data" / name / version / file
    if not path.is_file():
        return {}, None
    return json.loads(path.read_bytes())[key], f"data/{name}/{version}/{file}"


def load_service(botocore: Path, name: str, version: str) -> tuple[dict, str]:
    base = botocore / "data" / name / version
    plain, gz = base / "service-2.json", base / "service-2.json.gz"
    if plain.is_file():
        return json.loads(plain.read_bytes()), f"data/{name}/{version}/service-2.json"
    if gz.is_file():
        return json.loads(gzip.decompress(gz.read_bytes())), f"data/{name}/{version}/service-2.json.gz"
    sys.exit(f"error: neither {plain} nor {gz} exists")


def scenario_operations(scenario_dir: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The (service, operation) pairs of the scenarios, and those of the scenarios
    and fixtures whose answers are read (a non-empty `produces`)."""
    ops: dict[str, set[str]] = {}
    read: dict[str, set[str]] = {}
    files = sorted(scenario_dir.glob("*.toml"))
    if not files:
        sys.exit(f"error: no scenario files in {scenario_dir}")
    for path in files:
        with path.open("rb") as f:
            doc = tomllib.load(f)
        for sc in doc.get("scenario", []):
            ops.setdefault(sc["service"], set()).add(sc["operation"])
        for sc in doc.get("scenario", []) + doc.get("fixture", []):
            if sc.get("produces"):
                read.setdefault(sc["service"], set()).add(sc["operation"])
    return ops, read


def pick_protocol(meta: dict) -> str:
    if meta["protocol"] in SUPPORTED_PROTOCOLS:
        return meta["protocol"]
    for p in SUPPORTED_PROTOCOLS:
        if p in meta.get("protocols", []):
            return p
    sys.exit(f"error: {meta['uid']}: no supported protocol in {meta.get('protocols')}")


def ref(shapes: dict, r: dict) -> dict:
    """A shape reference with the serialization traits botocore merges into it:
    the reference's own locationName/queryName/flattened, else the target
    shape's (botocore's ShapeResolver lets member traits override the shape's)."""
    target = shapes[r["shape"]]
    out = {"shape": r["shape"]}
    for attr in ("locationName", "queryName"):
        if attr in r:
            out[attr] = r[attr]
        elif attr in target:
            out[attr] = target[attr]
    # Members outside the body (headers, status) and XML attributes are not read.
    for trait in ("xmlAttribute", "location", "jsonvalue", "eventpayload"):
        if trait in r:
            sys.exit(f"error: reference to {r['shape']}: trait {trait} is not supported")
    flattened = r.get("flattened", target.get("flattened", False))
    if flattened:
        out["flattened"] = True
    # SDKs fill idempotency tokens (ClientRequestToken…) when the caller leaves them out.
    if r.get("idempotencyToken"):
        out["idempotencyToken"] = True
    return out


def convert_shape(shapes: dict, name: str) -> dict:
    sh = shapes[name]
    t = sh["type"]
    if sh.get("document") or sh.get("eventstream") or sh.get("streaming"):
        sys.exit(f"error: shape {name}: document/stream shapes are not supported")
    if t == "structure":
        members = {m: ref(shapes, r) for m, r in sorted(sh.get("members", {}).items())}
        return {"type": t, "members": members}
    if t == "list":
        return {"type": t, "member": ref(shapes, sh["member"])}
    if t == "map":
        return {"type": t, "key": ref(shapes, sh["key"]), "value": ref(shapes, sh["value"])}
    if t in SCALAR_TYPES:
        return {"type": t}
    sys.exit(f"error: shape {name}: unsupported type {t!r}")


def reachable(shapes: dict, roots: list[str]) -> list[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        sh = shapes[n]
        for r in sh.get("members", {}).values():
            todo.append(r["shape"])
        for k in ("member", "key", "value"):
            if k in sh:
                todo.append(sh[k]["shape"])
    return sorted(seen)


def convert_paginator(prefix: str, op: str, pag: dict) -> dict:
    """A paginator with its token and result-key fields as lists (botocore allows a
    string or a list for each)."""
    as_list = lambda v: v if isinstance(v, list) else [v]
    unknown = set(pag) - {"input_token", "output_token", "result_key", "limit_key", "more_results",
                          "non_aggregate_keys"}
    if unknown:
        sys.exit(f"error: {prefix}:{op}: paginator fields {sorted(unknown)} are not supported")
    out = {
        "input_token": as_list(pag["input_token"]),
        "output_token": as_list(pag["output_token"]),
        "result_key": as_list(pag["result_key"]),
    }
    if len(out["input_token"]) != len(out["output_token"]):
        sys.exit(f"error: {prefix}:{op}: paginator has {len(out['input_token'])} input and "
                 f"{len(out['output_token'])} output tokens")
    for key in ("limit_key", "more_results"):
        if key in pag:
            out[key] = pag[key]
    return out


def convert_waiter(prefix: str, name: str, w: dict) -> dict:
    out = {"operation": w["operation"], "delay": w["delay"], "maxAttempts": w["maxAttempts"], "acceptors": []}
    for a in w["acceptors"]:
        unknown = set(a) - {"state", "matcher", "argument", "expected"}
        if unknown:
            sys.exit(f"error: {prefix} waiter {name}: acceptor fields {sorted(unknown)} are not supported")
        if a["state"] not in ("success", "failure", "retry"):
            sys.exit(f"error: {prefix} waiter {name}: state {a['state']!r}")
        if a["matcher"] not in ("path", "pathAll", "pathAny", "status", "error"):
            sys.exit(f"error: {prefix} waiter {name}: matcher {a['matcher']!r}")
        if a["matcher"].startswith("path") and not ARGUMENT_RE.match(a.get("argument", "")):
            sys.exit(f"error: {prefix} waiter {name}: argument {a.get('argument')!r} is outside the "
                     "JMESPath subset crates/core/src/wire/search.rs reads")
        out["acceptors"].append({k: a[k] for k in ("state", "matcher", "argument", "expected") if k in a})
    return out


def convert_service(prefix: str, name: str, data: dict, wanted: set[str], read: set[str],
                    paginators: dict, waiters: dict, waiter_names: list[str]) -> tuple[dict, list[str]]:
    meta = data["metadata"]
    missing = sorted(op for op in wanted if op not in data["operations"])
    ops = {}
    roots = []
    for op in sorted(wanted):
        if op not in data["operations"]:
            continue
        o = data["operations"][op]
        if o["http"]["method"] != "POST" or o["http"]["requestUri"] != "/":
            sys.exit(f"error: {prefix}:{op}: not POST / ({o['http']})")
        inp = o.get("input", {}).get("shape")
        out = o.get("output", {}).get("shape")
        entry = {"input": inp, "output": out}
        if inp:
            roots.append(inp)
        if op in read:
            # The answer is read: its shapes, where the result sits, how it pages.
            entry["read"] = True
            if out:
                roots.append(out)
                if "resultWrapper" in o["output"]:
                    entry["resultWrapper"] = o["output"]["resultWrapper"]
            if op in paginators:
                entry["paginator"] = convert_paginator(prefix, op, paginators[op])
        ops[op] = entry
    shapes = {n: convert_shape(data["shapes"], n) for n in reachable(data["shapes"], roots)}
    kept_waiters = {}
    for wn in waiter_names:
        if wn not in waiters:
            sys.exit(f"error: {prefix}: no waiter {wn} in waiters-2.json")
        w = convert_waiter(prefix, wn, waiters[wn])
        if w["operation"] not in read:
            sys.exit(f"error: {prefix} waiter {wn}: its operation {w['operation']} is not a read operation")
        kept_waiters[wn] = w
    protocol = pick_protocol(meta)
    svc = {
        "botocore": name,
        "apiVersion": meta["apiVersion"],
        "protocol": protocol,
        "targetPrefix": meta.get("targetPrefix") if protocol == "json" else None,
        "jsonVersion": meta.get("jsonVersion", "1.0") if protocol == "json" else None,
        # botocore signs with signingName, defaulting to endpointPrefix.
        "signingName": meta.get("signingName", meta["endpointPrefix"]),
        "endpointPrefix": meta["endpointPrefix"],
        "operations": ops,
        "shapes": shapes,
        "waiters": kept_waiters,
    }
    return svc, missing


def validate(model: dict) -> list[str]:
    problems = []
    for prefix, svc in model["services"].items():
        shapes = svc["shapes"]
        if svc["protocol"] == "json" and not svc["targetPrefix"]:
            problems.append(f"{prefix}: json protocol without targetPrefix")
        for op, o in svc["operations"].items():
            if o["input"] is not None and shapes.get(o["input"], {}).get("type") != "structure":
                problems.append(f"{prefix}:{op}: input {o['input']!r} is not a kept structure")
        for n, sh in shapes.items():
            refs = list(sh.get("members", {}).values())
            refs += [sh[k] for k in ("member", "key", "value") if k in sh]
            for r in refs:
                if r["shape"] not in shapes:
                    problems.append(f"{prefix}: shape {n} refers to missing {r['shape']}")
        for op, o in svc["operations"].items():
            if not o.get("read"):
                continue
            if o["output"] is not None and shapes.get(o["output"], {}).get("type") != "structure":
                problems.append(f"{prefix}:{op}: output {o['output']!r} is not a kept structure")
            pag = o.get("paginator")
            if pag is None:
                continue
            members_of = lambda shape: set(shapes.get(shape, {}).get("members", {})) if shape else set()
            inp, out = members_of(o["input"]), members_of(o["output"])
            for t in pag["input_token"] + ([pag["limit_key"]] if "limit_key" in pag else []):
                if t not in inp:
                    problems.append(f"{prefix}:{op}: paginator input member {t} is not in {o['input']}")
            for t in pag["output_token"] + pag["result_key"] + ([pag["more_results"]] if "more_results" in pag else []):
                if t not in out:
                    problems.append(f"{prefix}:{op}: paginator output member {t} is not in {o['output']}")
    spot = [
        ("ec2", "RunInstances", "SecurityGroupIds", {"locationName": "SecurityGroupId"}),
        ("ec2", "CreateVpc", "TagSpecifications", {"locationName": "TagSpecification"}),
        ("autoscaling", "CreateAutoScalingGroup", "Tags", {}),
    ]
    for prefix, op, member, want in spot:
        svc = model["services"][prefix]
        inp = svc["operations"].get(op, {}).get("input")
        r = svc["shapes"].get(inp, {}).get("members", {}).get(member)
        if r is None or any(r.get(k) != v for k, v in want.items()):
            problems.append(f"spot check {prefix}:{op}.{member}: got {r}, want {want}")
    for prefix, proto in [("ec2", "ec2"), ("elasticloadbalancing", "query"), ("secretsmanager", "json"), ("tag", "json")]:
        if model["services"][prefix]["protocol"] != proto:
            problems.append(f"{prefix}: protocol {model['services'][prefix]['protocol']} != {proto}")
    if model["services"]["tag"]["targetPrefix"] != "ResourceGroupsTaggingAPI_20170126":
        problems.append("tag: unexpected targetPrefix")
    return problems


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def render(model: dict) -> str:
    """One operation / shape per line; every object's keys sorted."""
    out = ["{", f' "services": {{']
    prefixes = sorted(model["services"])
    for i, prefix in enumerate(prefixes):
        svc = model["services"][prefix]
        out.append(f"  {compact(prefix)}: {{")
        keys = sorted(svc)
        for j, key in enumerate(keys):
            end = "," if j < len(keys) - 1 else ""
            value = svc[key]
            if key in ("operations", "shapes", "waiters") and value:
                out.append(f"   {compact(key)}: {{")
                names = sorted(value)
                for k, n in enumerate(names):
                    comma = "," if k < len(names) - 1 else ""
                    out.append(f"    {compact(n)}: {compact(value[n])}{comma}")
                out.append("   }" + end)
            else:
                out.append(f"   {compact(key)}: {compact(value)}{end}")
        out.append("  }" + ("," if i < len(prefixes) - 1 else ""))
    out.append(" },")
    out.append(f' "source": {compact(model["source"])}')
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--botocore", type=Path, default=DEFAULT_BOTOCORE,
                    help=f"the botocore package directory (default {DEFAULT_BOTOCORE})")
    ap.add_argument("--scenarios", type=Path, default=here.parent / "scenarios" / "dkp-bootstrapper",
                    help="directory of scenario *.toml files")
    ap.add_argument("--out", type=Path, default=here / "wire-model.json")
    args = ap.parse_args()

    version = botocore_version(args.botocore)
    used, produced = scenario_operations(args.scenarios)
    known = {prefix for prefix, _, _ in SERVICES}
    for service in sorted(set(used) - known):
        sys.exit(f"error: scenario service {service!r} is not one of {sorted(known)}")

    model = {
        "source": {
            "package": "botocore",
            "version": version,
            "license": "Apache-2.0",
            "files": {},
            "paginators": {},
            "waiters": {},
            "generator": "catalog/wire_model.py",
        },
        "services": {},
    }
    warnings = []
    for prefix, name, api_version in SERVICES:
        data, rel = load_service(args.botocore, name, api_version)
        if data["metadata"]["apiVersion"] != api_version:
            sys.exit(f"error: {rel}: apiVersion {data['metadata']['apiVersion']} != {api_version}")
        read = set(READ_OPERATIONS.get(prefix, [])) | produced.get(prefix, set())
        wanted = set(used.get(prefix, set())) | set(EXTRA_OPERATIONS.get(prefix, [])) | read
        paginators, pag_rel = load_extra(args.botocore, name, api_version, "paginators-1.json", "pagination")
        waiters, wait_rel = load_extra(args.botocore, name, api_version, "waiters-2.json", "waiters")
        svc, missing = convert_service(prefix, name, data, wanted, read, paginators, waiters,
                                       WAITERS.get(prefix, []))
        for op in missing:
            warnings.append(f"warning: {prefix}:{op} is not an operation of botocore "
                            f"{name} {api_version}; left out")
        model["services"][prefix] = svc
        model["source"]["files"][prefix] = "botocore/" + rel
        if any("paginator" in o for o in svc["operations"].values()):
            model["source"]["paginators"][prefix] = "botocore/" + pag_rel
        if svc["waiters"]:
            model["source"]["waiters"][prefix] = "botocore/" + wait_rel

    problems = validate(model)
    for p in problems:
        log(f"error: {p}")
    if problems:
        return 1
    for w in warnings:
        log(w)

    text = render(model)
    json.loads(text)  # must stay valid JSON
    args.out.write_text(text)
    for prefix, svc in sorted(model["services"].items()):
        read = [o for o in svc["operations"].values() if o.get("read")]
        log(f"{prefix:22} {svc['protocol']:5} {svc['apiVersion']}  "
            f"{len(svc['operations']):3} operations ({len(read):2} read, "
            f"{sum('paginator' in o for o in read):2} paginated)  {len(svc['shapes']):4} shapes  "
            f"{len(svc['waiters'])} waiters")
    log(f"wrote {args.out} ({len(text.encode())} bytes, botocore {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
