#!/usr/bin/env python3
"""Capture real answers for the response parser's fixtures, with botocore's reading.

Runs moto (in process, `moto.mock_aws`) through boto3, makes every call whose answer
the project reads (the `read` operations of catalog/wire-model.json), and records for
each: our service prefix, the operation, the HTTP status, the raw body moto answered,
and what botocore's own response parser makes of that body
(`botocore.parsers.create_parser(protocol).parse(...)` with the operation's output
shape, so without client handlers such as IAM's policy-document decoding), normalized
to the project's JSON conventions: timestamps as RFC 3339 UTC, blobs as text, no
`ResponseMetadata`. crates/core/src/wire/tests_response.rs compares the project's
`parse_response` with botocore's reading of each body.

Usage (the moto venv has boto3/botocore 1.44.8 and moto 5.2.5):
    $(localstack/setup-moto.sh)/bin/python catalog/capture_responses.py
    ... --out PATH       (default crates/core/src/wire/fixtures/responses.json)

Run once and commit the output; re-run only when the model or the pinned versions change.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402
import botocore  # noqa: E402
import botocore.parsers  # noqa: E402
import moto  # noqa: E402

WANT_BOTOCORE = "1.44.8"
WANT_MOTO = "5.2.5"

# boto3 client name -> our service prefix
PREFIX = {
    "ec2": "ec2", "iam": "iam", "sts": "sts", "cloudformation": "cloudformation",
    "elb": "elasticloadbalancing", "autoscaling": "autoscaling", "secretsmanager": "secretsmanager",
}
# The protocol the project reads each service with (catalog/wire-model.json).
PROTOCOL = {"ec2": "ec2", "iam": "query", "sts": "query", "cloudformation": "query", "elb": "query",
            "autoscaling": "query", "secretsmanager": "json"}


def normalize(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}".rstrip("0")
        return text + "Z"
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


# Credentials and key material moto made up, replaced by AWS's documented example values
# before the body is read, so that the fixtures hold nothing shaped like a live secret.
REDACT = [
    (rb"<AccessKeyId>[^<]*</AccessKeyId>", b"<AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>"),
    (rb"<SecretAccessKey>[^<]*</SecretAccessKey>",
     b"<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>"),
    (rb"<SessionToken>[^<]*</SessionToken>", b"<SessionToken>EXAMPLE-SESSION-TOKEN</SessionToken>"),
    (rb"<keyMaterial>[^<]*</keyMaterial>", b"<keyMaterial>(key material left out)</keyMaterial>"),
]


def redact(body: bytes) -> bytes:
    for pattern, example in REDACT:
        body = re.sub(pattern, example, body)
    return body


class Recorder:
    def __init__(self):
        self.cases = []
        self.last = None

    def hook(self, operation_model, response_dict, **_):
        self.last = (operation_model, dict(response_dict))

    def client(self, name):
        c = boto3.client(name, region_name="us-east-1")
        c.meta.events.register("before-parse.*.*", self.hook)
        return c

    def call(self, client, operation, note="", **kwargs):
        """Makes the call (snake_case method from the operation name) and records it."""
        name = client.meta.service_model.service_name
        method = botocore.xform_name(operation)
        self.last = None
        try:
            result = getattr(client, method)(**kwargs)
        except NotImplementedError as e:
            # moto lacks a few (ListInstanceProfileTags): nothing to capture.
            print(f"note: {name}:{operation}: {e}; left out", file=sys.stderr)
            return None
        except client.exceptions.ClientError as e:
            sys.exit(f"error: {name}:{operation} failed: {e}")
        op_model, response = self.last
        assert op_model.name == operation, (op_model.name, operation)
        response["body"] = redact(response["body"])
        parser = botocore.parsers.create_parser(PROTOCOL[name])
        parsed = parser.parse(response, op_model.output_shape)
        body = response["body"]
        self.cases.append({
            "service": PREFIX[name],
            "operation": operation,
            "note": note,
            "status": response["status_code"],
            "body": body.decode("utf-8"),
            "botocore": normalize(parsed),
        })
        return result

    def written(self, client, operation, body, note):
        """Records an answer written here (for what moto does not implement), in the
        shape of the AWS API reference's example, read by botocore's parser."""
        name = client.meta.service_model.service_name
        op_model = client.meta.service_model.operation_model(operation)
        response = {"status_code": 200, "headers": {}, "body": body.encode("utf-8")}
        parsed = botocore.parsers.create_parser(PROTOCOL[name]).parse(response, op_model.output_shape)
        self.cases.append({"service": PREFIX[name], "operation": operation, "note": "written: " + note,
                           "status": 200, "body": body, "botocore": normalize(parsed)})


# Answers moto 5.2.5 does not give, written in the shapes of the API reference (IAM
# SimulatePrincipalPolicy, ListInstanceProfileTags, GetServiceLinkedRoleDeletionStatus;
# STS DecodeAuthorizationMessage).
WRITTEN = [
    ("iam", "SimulatePrincipalPolicy", "per-resource results, an SCP detail, positions",
     """<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <SimulatePrincipalPolicyResult>
    <IsTruncated>false</IsTruncated>
    <EvaluationResults>
      <member>
        <EvalActionName>secretsmanager:CreateSecret</EvalActionName>
        <EvalDecision>explicitDeny</EvalDecision>
        <MatchedStatements/>
        <MissingContextValues><member>aws:RequestTag/owner</member></MissingContextValues>
        <OrganizationsDecisionDetail><AllowedByOrganizations>false</AllowedByOrganizations></OrganizationsDecisionDetail>
        <EvalDecisionDetails><entry><key>iam-policy</key><value>allowed</value></entry></EvalDecisionDetails>
        <ResourceSpecificResults>
          <member>
            <EvalResourceName>arn:aws:secretsmanager:us-west-2:123456789012:secret:aws.cluster.x-k8s.io/a</EvalResourceName>
            <EvalResourceDecision>allowed</EvalResourceDecision>
            <MatchedStatements>
              <member>
                <SourcePolicyId>dkp-bootstrapper-policy</SourcePolicyId>
                <SourcePolicyType>user-managed</SourcePolicyType>
                <StartPosition><Line>1</Line><Column>420</Column></StartPosition>
                <EndPosition><Line>1</Line><Column>600</Column></EndPosition>
              </member>
            </MatchedStatements>
            <MissingContextValues/>
          </member>
        </ResourceSpecificResults>
      </member>
      <member>
        <EvalActionName>ec2:DescribeVpcs</EvalActionName>
        <EvalResourceName>*</EvalResourceName>
        <EvalDecision>allowed</EvalDecision>
        <MatchedStatements/>
        <MissingContextValues/>
      </member>
    </EvaluationResults>
  </SimulatePrincipalPolicyResult>
  <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>
</SimulatePrincipalPolicyResponse>"""),
    ("sts", "DecodeAuthorizationMessage", "the JSON document XML-escaped",
     """<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <DecodeAuthorizationMessageResult>
    <DecodedMessage>{&quot;allowed&quot;:false,&quot;explicitDeny&quot;:false,&quot;context&quot;:{&quot;action&quot;:&quot;RunInstances&quot;}}</DecodedMessage>
  </DecodeAuthorizationMessageResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</DecodeAuthorizationMessageResponse>"""),
    ("iam", "ListInstanceProfileTags", "truncated",
     """<ListInstanceProfileTagsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListInstanceProfileTagsResult>
    <IsTruncated>true</IsTruncated>
    <Marker>m-1</Marker>
    <Tags>
      <member><Key>iam-conformance:run-id</Key><Value>20261128T193150Z-1a2b</Value></member>
    </Tags>
  </ListInstanceProfileTagsResult>
  <ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata>
</ListInstanceProfileTagsResponse>"""),
    ("iam", "GetServiceLinkedRoleDeletionStatus", "failed, with the role's users",
     """<GetServiceLinkedRoleDeletionStatusResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetServiceLinkedRoleDeletionStatusResult>
    <Status>FAILED</Status>
    <Reason>
      <Reason>The role is in use</Reason>
      <RoleUsageList>
        <member>
          <Region>us-west-2</Region>
          <Resources>
            <member>arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:1:autoScalingGroupName/g</member>
            <member>arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:2:autoScalingGroupName/h</member>
          </Resources>
        </member>
      </RoleUsageList>
    </Reason>
  </GetServiceLinkedRoleDeletionStatusResult>
  <ResponseMetadata><RequestId>r-4</RequestId></ResponseMetadata>
</GetServiceLinkedRoleDeletionStatusResponse>"""),
]


POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ec2:DescribeTags", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
TAGS = [{"Key": "iam-conformance:run-id", "Value": "20261128T193150Z-1a2b"},
        {"Key": "iam-conformance:expires", "Value": "2026-11-28T23:31:50Z"}]


def capture(r: Recorder) -> None:
    ec2, iam, sts = r.client("ec2"), r.client("iam"), r.client("sts")
    cfn, elb, asg, sm = r.client("cloudformation"), r.client("elb"), r.client("autoscaling"), r.client("secretsmanager")
    spec = lambda kind: [{"ResourceType": kind, "Tags": TAGS}]

    vpc = r.call(ec2, "CreateVpc", CidrBlock="10.0.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
    subnet = r.call(ec2, "CreateSubnet", VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a",
                    TagSpecifications=spec("subnet"))["Subnet"]["SubnetId"]
    nodes = r.call(ec2, "CreateSecurityGroup", GroupName="nodes", Description="d", VpcId=vpc,
                   TagSpecifications=spec("security-group"))["GroupId"]
    lb = ec2.create_security_group(GroupName="lb", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=nodes, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 6443, "ToPort": 6443,
         "UserIdGroupPairs": [{"GroupId": lb, "Description": "Kubernetes API & more"}],
         "IpRanges": [{"CidrIp": "10.0.0.0/16"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": nodes}]}])
    ec2.authorize_security_group_egress(GroupId=lb, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "UserIdGroupPairs": [{"GroupId": nodes}]}])
    r.call(ec2, "DescribeSecurityGroups", note="two groups referencing each other", GroupIds=[nodes, lb])
    igw = r.call(ec2, "CreateInternetGateway", TagSpecifications=spec("internet-gateway"))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rtb = r.call(ec2, "CreateRouteTable", VpcId=vpc, TagSpecifications=spec("route-table"))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    r.call(ec2, "AssociateRouteTable", RouteTableId=rtb, SubnetId=subnet)
    alloc = r.call(ec2, "AllocateAddress", Domain="vpc", TagSpecifications=spec("elastic-ip"))["AllocationId"]
    nat_alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = r.call(ec2, "CreateNatGateway", SubnetId=subnet, AllocationId=nat_alloc,
                 TagSpecifications=spec("natgateway"))["NatGateway"]["NatGatewayId"]
    lt = r.call(ec2, "CreateLaunchTemplate", LaunchTemplateName="lt",
                LaunchTemplateData={"InstanceType": "t3.micro", "ImageId": "ami-12c6146b",
                                    "SecurityGroupIds": [nodes], "IamInstanceProfile": {"Name": "p"},
                                    "TagSpecifications": [{"ResourceType": "instance", "Tags": TAGS}]},
                TagSpecifications=spec("launch-template"))["LaunchTemplate"]["LaunchTemplateId"]
    r.call(ec2, "DescribeLaunchTemplateVersions", LaunchTemplateId=lt, Versions=["$Latest"])
    r.call(ec2, "CreateLaunchTemplateVersion", LaunchTemplateId=lt, SourceVersion="1",
           LaunchTemplateData={"InstanceType": "t3.small"})
    r.call(ec2, "CreateKeyPair", KeyName="k", TagSpecifications=spec("key-pair"))
    r.call(ec2, "CreateVolume", AvailabilityZone="us-east-1a", Size=1, TagSpecifications=spec("volume"))
    image = r.call(ec2, "DescribeImages", note="one image", ImageIds=["ami-12c6146b"])["Images"][0]["ImageId"]
    instance = r.call(ec2, "RunInstances", ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                      SubnetId=subnet, SecurityGroupIds=[nodes],
                      TagSpecifications=spec("instance"))["Instances"][0]["InstanceId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[nodes],
                                       TagSpecifications=spec("network-interface"))
    r.call(ec2, "DescribeNetworkInterfaces", note="one, by id",
           NetworkInterfaceIds=[eni["NetworkInterface"]["NetworkInterfaceId"]])
    tagged = [{"Name": "tag-key", "Values": ["iam-conformance:run-id"]}]
    for op in ["DescribeInstances", "DescribeAddresses", "DescribeRouteTables", "DescribeInternetGateways",
               "DescribeSubnets", "DescribeSecurityGroups", "DescribeVpcs", "DescribeLaunchTemplates",
               "DescribeKeyPairs", "DescribeVolumes"]:
        r.call(ec2, op, note="tag-key filter", Filters=tagged)
    r.call(ec2, "DescribeNatGateways", note="tag-key filter", Filter=tagged)
    r.call(ec2, "DescribeVpcs", note="a page of one", MaxResults=5)
    ec2.terminate_instances(InstanceIds=[instance])
    r.call(ec2, "DescribeInstances", note="terminated", InstanceIds=[instance])
    ec2.delete_nat_gateway(NatGatewayId=nat)
    r.call(ec2, "DescribeNatGateways", note="deleted", NatGatewayIds=[nat])

    elb.create_load_balancer(LoadBalancerName="lb", Subnets=[subnet], SecurityGroups=[lb],
                             Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 6443, "InstancePort": 6443}],
                             Tags=TAGS)
    r.call(elb, "DescribeLoadBalancers")
    r.call(elb, "DescribeTags", LoadBalancerNames=["lb"])

    asg.create_auto_scaling_group(AutoScalingGroupName="g", MinSize=1, MaxSize=1, DesiredCapacity=1,
                                  VPCZoneIdentifier=subnet,
                                  LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
                                  Tags=[dict(t, ResourceId="g", ResourceType="auto-scaling-group",
                                             PropagateAtLaunch=True) for t in TAGS])
    groups = r.call(asg, "DescribeAutoScalingGroups", AutoScalingGroupNames=["g"])
    asg_instance = groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    r.call(asg, "DescribeAutoScalingInstances", InstanceIds=[asg_instance])

    secret = r.call(sm, "CreateSecret", Name="aws.cluster.x-k8s.io/s", SecretString="x", Tags=TAGS)["ARN"]
    sm.create_secret(Name="other", SecretString="y")
    r.call(sm, "ListSecrets", Filters=[{"Key": "tag-key", "Values": ["iam-conformance:run-id"]}])
    r.call(sm, "ListSecrets", note="all, a page of one", MaxResults=1)

    r.call(iam, "CreateRole", RoleName="nodes", Path="/team-a/", AssumeRolePolicyDocument=TRUST, Tags=TAGS)
    iam.create_role(RoleName="other", AssumeRolePolicyDocument=TRUST)
    r.call(iam, "GetRole", RoleName="nodes")
    policy = r.call(iam, "CreatePolicy", PolicyName="p", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="nodes", PolicyArn=policy)
    iam.put_role_policy(RoleName="nodes", PolicyName="inline & more", PolicyDocument=POLICY)
    r.call(iam, "ListAttachedRolePolicies", RoleName="nodes")
    r.call(iam, "GetPolicy", PolicyArn=policy)
    r.call(iam, "GetPolicyVersion", PolicyArn=policy, VersionId="v1")
    r.call(iam, "ListRolePolicies", RoleName="nodes")
    r.call(iam, "GetRolePolicy", RoleName="nodes", PolicyName="inline & more")
    r.call(iam, "CreateInstanceProfile", InstanceProfileName="p", Path="/team-a/", Tags=TAGS)
    iam.add_role_to_instance_profile(InstanceProfileName="p", RoleName="nodes")
    iam.create_instance_profile(InstanceProfileName="empty")
    r.call(iam, "GetInstanceProfile", InstanceProfileName="p")
    r.call(iam, "ListInstanceProfiles")
    r.call(iam, "ListInstanceProfileTags", InstanceProfileName="p")
    r.call(iam, "ListInstanceProfilesForRole", RoleName="nodes")
    r.call(iam, "ListRoles")
    r.call(iam, "ListRoles", note="a page of one", MaxItems=1)
    r.call(iam, "ListRoleTags", RoleName="nodes")
    iam.create_user(UserName="u")
    iam.attach_user_policy(UserName="u", PolicyArn=policy)
    iam.create_group(GroupName="team")
    iam.add_user_to_group(GroupName="team", UserName="u")
    r.call(iam, "ListAttachedUserPolicies", UserName="u")
    r.call(iam, "ListUserPolicies", UserName="u")
    r.call(iam, "ListGroupsForUser", UserName="u")
    r.call(iam, "CreateAccessKey", UserName="u")
    role_arn = iam.get_role(RoleName="nodes")["Role"]["Arn"]
    r.call(iam, "SimulatePrincipalPolicy", PolicySourceArn=role_arn, ActionNames=["ec2:DescribeTags", "ec2:RunInstances"])
    slr = r.call(iam, "CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com")["Role"]["RoleName"]
    task = r.call(iam, "DeleteServiceLinkedRole", RoleName=slr)["DeletionTaskId"]
    r.call(iam, "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)

    r.call(sts, "GetCallerIdentity")
    r.call(sts, "AssumeRole", RoleArn=role_arn, RoleSessionName="session", DurationSeconds=900)
    r.call(sts, "DecodeAuthorizationMessage", EncodedMessage="x")

    template = json.dumps({"Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "stack-role",
                                                          "AssumeRolePolicyDocument": json.loads(TRUST)}}}})
    cfn.create_stack(StackName="s", TemplateBody=template, Tags=TAGS, Parameters=[],
                     Capabilities=["CAPABILITY_NAMED_IAM"])
    r.call(cfn, "DescribeStacks", StackName="s")
    r.call(cfn, "ListStackResources", StackName="s")
    r.call(cfn, "DescribeStacks", note="all stacks")

    clients = {"iam": iam, "sts": sts}
    for service, operation, note, body in WRITTEN:
        r.written(clients[service], operation, body, note)


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=here.parent / "crates/core/src/wire/fixtures/responses.json")
    args = ap.parse_args()
    if botocore.__version__ != WANT_BOTOCORE or moto.__version__ != WANT_MOTO:
        sys.exit(f"error: need botocore {WANT_BOTOCORE} and moto {WANT_MOTO}, "
                 f"have {botocore.__version__} and {moto.__version__}")
    r = Recorder()
    with moto.mock_aws():
        capture(r)
    out = {
        "source": {"generator": "catalog/capture_responses.py", "botocore": botocore.__version__,
                   "moto": moto.__version__},
        "cases": r.cases,
    }
    text = json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    ops = sorted({(c["service"], c["operation"]) for c in r.cases})
    print(f"wrote {args.out}: {len(r.cases)} answers of {len(ops)} operations ({len(text.encode())} bytes)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
