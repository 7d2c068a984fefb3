#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/seeds/<target>/ from the repository's
real inputs (the seed profile, its template and scenario files, the golden mini profile),
policy documents taken from those templates, and signed requests built here.

Run from anywhere: python3 fuzz/make_seeds.py (PyYAML is used when present, to turn the
templates' policy documents into JSON; without it only the hand-written policies are
written). The gate seeds are signed at fuzz/src/entry.rs's NOW with its keys, so that
the fuzzer starts from requests that authenticate.
"""

import base64
import gzip
import hashlib
import hmac
import json
import pathlib
import re
import shutil
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
PROFILE = ROOT / "scenarios" / "dkp-bootstrapper"
MINI = ROOT / "tests" / "fixtures" / "mini"

# fuzz/src/entry.rs: NOW, ROLE_KEY, ROLE_SECRET, ROLE_TOKEN, ADMIN_KEY, ADMIN_SECRET.
AMZ_DATE = "20261120T120000Z"
ROLE = ("ASIAFUZZROLE", "fuzz-role-secret", "fuzz-session-token")
ADMIN = ("AKIAFUZZADMIN", "fuzz-admin-secret", None)
REGION = "us-west-2"
HOST = "127.0.0.1:4566"


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# ---------------------------------------------------------------- templates


def template_seeds():
    write("template", "dkp-template.yaml", (PROFILE / "template.yaml").read_bytes())
    write("template", "mini-template.yaml", (MINI / "template.yaml").read_bytes())
    write("template", "json-template.json", json.dumps(JSON_TEMPLATE, indent=2))
    # The shapes of tests/hostile_input.rs, small: aliases, nesting, circular refs.
    write(
        "template",
        "aliases.yaml",
        "Resources:\n  R:\n    Type: AWS::S3::Bucket\n    Properties:\n"
        "      a0: &a0 [a, b]\n      a1: &a1 [*a0, *a0]\n      a2: [*a1, *a1, {<<: {k: v}}]\n",
    )
    write("template", "nested.yaml", "Resources:\n  R:\n    Type: X\n    Properties:\n      D: " + "- " * 20 + "x\n")
    write(
        "template",
        "circular.yaml",
        "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Ref Policy\n"
        "  Policy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Roles: [!Ref Role]\n"
        "      ManagedPolicyName: !Sub '${Role}-p'\n",
    )
    write(
        "template",
        "intrinsics.yaml",
        "Parameters:\n  P: {Type: String, Default: x}\nMappings:\n  M: {us-west-2: {k: v}}\n"
        "Conditions:\n  C: !Equals [!Ref P, x]\n  D: !Not [!Condition C]\n"
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Condition: C\n    Properties:\n"
        "      RoleName: !Join ['-', [!Ref 'AWS::StackName', !Select [0, !Split [',', 'a,b']]]]\n"
        "      Path: !FindInMap [M, !Ref 'AWS::Region', k]\n"
        "      Description: !If [C, !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:x', !Ref 'AWS::NoValue']\n"
        "      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: 'sts:AssumeRole'}]}\n"
        "      Tags: [{Key: !GetAtt R.Arn, Value: !Base64 x}, {Key: k, Value: !ImportValue y}, {Key: c, Value: !Cidr [a, 1, 2]}]\n",
    )


JSON_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "json-role",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
                },
                "Policies": [
                    {
                        "PolicyName": "inline",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
                                {
                                    "Effect": "Allow",
                                    "Action": "iam:PassRole",
                                    "Resource": {"Fn::GetAtt": ["Role", "Arn"]},
                                    "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                                },
                            ],
                        },
                    }
                ],
            },
        },
        "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}},
        "Managed": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "NotAction": "ec2:RunInstances",
                            "NotResource": {"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"},
                        }
                    ],
                },
            },
        },
    },
}

# ---------------------------------------------------------------- policies


def tagged_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", construct)
    # Dates (2012-10-17) stay text, as the template reader keeps them.
    Loader.yaml_implicit_resolvers = {
        k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:timestamp"] for k, v in Loader.yaml_implicit_resolvers.items()
    }
    return Loader


def documents(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("PolicyDocument", "AssumeRolePolicyDocument") and isinstance(v, dict):
                yield v
            else:
                yield from documents(v)
    elif isinstance(node, list):
        for v in node:
            yield from documents(v)


PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": "000000000000", "AWS::Region": REGION, "AWS::StackName": "iam-conformance"}


def rendered(node):
    """A policy document as IAM holds it: intrinsics resolved roughly, placeholders set."""
    if isinstance(node, dict) and len(node) == 1:
        (k, v), = node.items()
        if k == "Fn::Sub" and isinstance(v, str):
            return re.sub(r"\$\{([^}]*)\}", lambda m: PSEUDO.get(m.group(1), m.group(1).split(".")[0]), v)
        if k == "Ref" and isinstance(v, str):
            return PSEUDO.get(v, v)
        if k == "Fn::GetAtt":
            return f"arn:aws:iam::000000000000:role/{v[0]}"
        if k == "Fn::Join" and isinstance(v, list) and len(v) == 2:
            return v[0].join(str(rendered(x)) for x in v[1])
    if isinstance(node, dict):
        return {k: rendered(v) for k, v in node.items()}
    if isinstance(node, list):
        return [rendered(v) for v in node]
    if isinstance(node, str):
        return node.replace("MYAWSACCOUNTID", "000000000000").replace("MYAWSACCOUNT", "000000000000")
    return node


def policy_seeds():
    n = 0
    try:
        import yaml

        loader = tagged_loader()
        for path in (PROFILE / "template.yaml", MINI / "template.yaml"):
            for doc in documents(yaml.load(path.read_text(), Loader=loader)):
                n += 1
                write("policy", f"template-{n}.json", json.dumps(rendered(doc), indent=2))
    except ImportError:
        pass
    for doc in documents(JSON_TEMPLATE):
        n += 1
        write("policy", f"template-{n}.json", json.dumps(rendered(doc)))
    for i, doc in enumerate(HAND_POLICIES):
        write("policy", f"hand-{i + 1}.json", json.dumps(doc, indent=1))
    # As IAM returns a document (URL-encoded) the reader sees it decoded; one compact.
    write("policy", "compact.json", json.dumps(HAND_POLICIES[0], separators=(",", ":")))


HAND_POLICIES = [
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Every",
                "Effect": "Allow",
                "Action": ["ec2:Run*", "iam:?assRole", "sts:*"],
                "Resource": ["arn:aws:ec2:${aws:RequestedRegion}:*:instance/*", "arn:aws:iam::*:role/${aws:username}"],
                "Condition": {
                    "StringEquals": {"aws:RequestTag/Name": ["x", "y"]},
                    "StringNotLikeIfExists": {"ec2:Region": "eu-*"},
                    "ForAllValues:StringLike": {"aws:TagKeys": ["Name", "k*"]},
                    "ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": "NAME"},
                    "NumericLessThanEquals": {"s3:max-keys": "10"},
                    "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                    "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                    "NotIpAddress": {"aws:SourceIp": "192.0.2.1"},
                    "Bool": {"aws:SecureTransport": "true"},
                    "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"},
                    "Null": {"aws:ResourceTag/kubernetes.io/cluster/c": "false"},
                    "BinaryEquals": {"k": "QmluYXJ5"},
                },
            },
            {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "*"},
        ],
    },
    {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::000000000000:root", "*"], "Service": "ec2.amazonaws.com", "Federated": "cognito-identity.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
        },
    },
    {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*", "Resource": "*"}]},
    {"Version": "2012-10-17", "Id": "x", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/${aws:userid}/*\u00e9"}]},
]

# ---------------------------------------------------------------- scenarios


def scenario_seeds():
    for p in sorted(PROFILE.glob("*.toml")):
        write("scenarios", f"dkp-{p.name}", p.read_bytes())
        # One scenario a seed as well: small inputs mutate faster.
        text = p.read_text()
        chunks = re.split(r"(?m)^(?=\[\[scenario\]\])", text)
        for i, c in enumerate(chunks[1:][:6]):
            write("scenarios", f"dkp-{p.stem}-{i}.toml", c)
    for p in sorted(MINI.glob("*.toml")):
        write("scenarios", f"mini-{p.name}", p.read_bytes())


# ---------------------------------------------------------------- gate requests


def uri_encode(s, slash=True):
    return urllib.parse.quote(s, safe="-_.~" + ("" if slash else "/"))


def normalize(path):
    """The path as sigv4.rs's canonical_uri normalizes it (`.`, `..`, empty segments)."""
    segments = path.split("/")
    out = []
    for i, seg in enumerate(segments):
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        if seg == "" and i != 0 and i != len(segments) - 1:
            continue
        out.append(seg)
    n = "/".join(out)
    if not n.startswith("/"):
        n = "/" + n
    if path.endswith("/") and not n.endswith("/"):
        n += "/"
    return n


def canonical_query(query):
    if not query:
        return ""
    pairs = []
    for p in query.split("&"):
        if not p:
            continue
        k, _, v = p.partition("=")
        k = urllib.parse.unquote_plus(k)
        v = urllib.parse.unquote_plus(v)
        if k == "X-Amz-Signature":
            continue
        pairs.append((uri_encode(k), uri_encode(v)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def signing_key(secret, date, service):
    k = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sign(method, path, query, headers, body, service, key, presign=False):
    """Returns (query, headers) with the signature added."""
    access, secret, token = key
    date = AMZ_DATE[:8]
    scope = f"{date}/{REGION}/{service}/aws4_request"
    headers = [("Host", HOST)] + headers
    if presign:
        params = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{access}/{scope}"),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Expires", "300"),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if token:
            params.append(("X-Amz-Security-Token", token))
        extra = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in params)
        query = f"{query}&{extra}" if query else extra
    else:
        headers.append(("X-Amz-Date", AMZ_DATE))
        if token:
            headers.append(("X-Amz-Security-Token", token))
    signed = sorted({k.lower() for k, _ in headers} if not presign else {"host"})
    canonical_headers = "".join(
        f"{h}:{','.join(' '.join(v.split()) for k, v in headers if k.lower() == h)}\n" for h in signed
    )
    payload = next((v for k, v in headers if k.lower() == "x-amz-content-sha256"), None)
    if payload is None:
        payload = "UNSIGNED-PAYLOAD" if presign and service == "s3" else hashlib.sha256(body).hexdigest()
    uri = path if service == "s3" else "/".join(uri_encode(s) for s in normalize(path).split("/"))
    canonical = "\n".join([method, uri, canonical_query(query), canonical_headers, ";".join(signed), payload])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", AMZ_DATE, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret, date, service), to_sign.encode(), hashlib.sha256).hexdigest()
    if presign:
        query += f"&X-Amz-Signature={signature}"
    else:
        headers.append(
            ("Authorization", f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}")
        )
    return query, headers


def request(name, method, path, body=b"", service="ec2", key=ROLE, headers=(), query=None, presign=False, signed=True):
    body = body.encode() if isinstance(body, str) else body
    headers = list(headers)
    if signed:
        query, headers = sign(method, path, query, headers, body, service, key, presign)
    else:
        headers = [("Host", HOST)] + headers
    target = path + (f"?{query}" if query is not None else "")
    head = f"{method} {target}\n" + "".join(f"{k}: {v}\n" for k, v in headers)
    write("gate_request", f"{name}.http", head.encode() + b"\n" + body)


FORM = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
JSON11 = "application/x-amz-json-1.1"


def form(**params):
    return urllib.parse.urlencode(params)


def gate_seeds():
    request("ec2-describe-vpcs", "POST", "/", form(Action="DescribeVpcs", Version="2016-11-15"), headers=FORM)
    request(
        "ec2-run-instances",
        "POST",
        "/",
        form(
            Action="RunInstances",
            Version="2016-11-15",
            ImageId="ami-0123456789abcdef0",
            MinCount="1",
            MaxCount="1",
            InstanceType="t3.small",
            SubnetId="subnet-0123456789abcdef0",
            **{
                "IamInstanceProfile.Name": "DKPBootstrapInstanceProfile",
                "TagSpecification.1.ResourceType": "instance",
                "TagSpecification.1.Tag.1.Key": "Name",
                "TagSpecification.1.Tag.1.Value": "x",
                "SecurityGroupId.1": "sg-0123456789abcdef0",
            },
        ),
        headers=FORM,
    )
    request(
        "ec2-create-vpc-tags",
        "POST",
        "/",
        form(
            Action="CreateVpc",
            Version="2016-11-15",
            CidrBlock="10.0.0.0/16",
            **{"TagSpecification.1.ResourceType": "vpc", "TagSpecification.1.Tag.1.Key": "kubernetes.io/cluster/c", "TagSpecification.1.Tag.1.Value": "owned"},
        ),
        headers=FORM,
    )
    request("iam-get-role-admin", "POST", "/", form(Action="GetRole", Version="2010-05-08", RoleName="dkp-bootstrapper-role"), service="iam", key=ADMIN, headers=FORM)
    request(
        "iam-put-role-policy",
        "POST",
        "/",
        form(
            Action="PutRolePolicy",
            Version="2010-05-08",
            RoleName="r",
            PolicyName="p",
            PolicyDocument=json.dumps(HAND_POLICIES[2]),
        ),
        service="iam",
        headers=FORM,
    )
    request(
        "iam-pass-role",
        "POST",
        "/",
        form(Action="CreateServiceLinkedRole", Version="2010-05-08", AWSServiceName="autoscaling.amazonaws.com"),
        service="iam",
        headers=FORM,
    )
    request(
        "sts-assume-role-admin",
        "POST",
        "/",
        form(Action="AssumeRole", Version="2011-06-15", RoleArn="arn:aws:iam::000000000000:role/dkp-bootstrapper-role", RoleSessionName="s", DurationSeconds="3600"),
        service="sts",
        key=ADMIN,
        headers=FORM,
    )
    request("sts-presigned-caller-identity", "GET", "/", service="sts", query="Action=GetCallerIdentity&Version=2011-06-15", presign=True)
    secret = base64.b64encode(gzip.compress(b"#cloud-config\n" * 8, mtime=0)).decode()
    request(
        "secretsmanager-create-secret-binary",
        "POST",
        "/",
        json.dumps({"Name": "aws.cluster.x-k8s.io/i-0123/1", "SecretBinary": secret, "Tags": [{"Key": "k", "Value": "v"}]}),
        service="secretsmanager",
        headers=[("Content-Type", JSON11), ("X-Amz-Target", "secretsmanager.CreateSecret")],
    )
    request(
        "secretsmanager-delete-secret",
        "POST",
        "/",
        json.dumps({"SecretId": "arn:aws:secretsmanager:us-west-2:000000000000:secret:x-AbCdEf", "ForceDeleteWithoutRecovery": True}),
        service="secretsmanager",
        headers=[("Content-Type", JSON11), ("X-Amz-Target", "secretsmanager.DeleteSecret")],
    )
    request(
        "tagging-get-resources",
        "POST",
        "/",
        json.dumps({"TagFilters": [{"Key": "kubernetes.io/cluster/c", "Values": ["owned"]}], "ResourceTypeFilters": ["ec2:instance"]}),
        service="tagging",
        headers=[("Content-Type", JSON11), ("X-Amz-Target", "ResourceGroupsTaggingAPI_20170126.GetResources")],
    )
    request(
        "autoscaling-create-group",
        "POST",
        "/",
        form(
            Action="CreateAutoScalingGroup",
            Version="2011-01-01",
            AutoScalingGroupName="g",
            MinSize="1",
            MaxSize="1",
            **{"LaunchTemplate.LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplate.Version": "$Latest", "VPCZoneIdentifier": "subnet-1", "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"},
        ),
        service="autoscaling",
        headers=FORM,
    )
    request(
        "elb-create-load-balancer",
        "POST",
        "/",
        form(
            Action="CreateLoadBalancer",
            Version="2012-06-01",
            LoadBalancerName="lb",
            **{"Listeners.member.1.Protocol": "TCP", "Listeners.member.1.LoadBalancerPort": "6443", "Listeners.member.1.InstancePort": "6443", "Subnets.member.1": "subnet-1", "Scheme": "internet-facing"},
        ),
        service="elasticloadbalancing",
        headers=FORM,
    )
    request(
        "cloudformation-update-stack",
        "POST",
        "/",
        form(Action="UpdateStack", Version="2010-05-15", StackName="iam-conformance", TemplateBody="Resources: {}"),
        service="cloudformation",
        headers=FORM,
    )
    request("s3-put-object", "PUT", "/bucket/key%20a", b"hello", service="s3", headers=[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")])
    request("s3-list-buckets", "GET", "/", service="s3", headers=[("x-amz-content-sha256", hashlib.sha256(b"").hexdigest())])
    request("control-path-reset", "POST", "/moto-api/reset", headers=FORM)
    request("query-in-url", "POST", "/a/./b/../c//d/", form(Action="DescribeVpcs", Version="2016-11-15"), query="Action=DescribeVpcs&Version=2016-11-15&b=%2F+x", headers=FORM)
    request("unsigned", "GET", "/", signed=False)
    request("scenario-header", "POST", "/", form(Action="DescribeSubnets", Version="2016-11-15"), headers=FORM + [("x-iam-conformance-scenario", "ec2-network.describe-subnets")])


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    template_seeds()
    policy_seeds()
    scenario_seeds()
    gate_seeds()
    for d in sorted(SEEDS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()
