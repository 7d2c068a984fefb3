//! `sweep` against a real moto server: resources of one run (tagged the way a run tags
//! them, with `tag_call`; the IAM role and instance profile as fixtures make them, named
//! by `created_named`), of another run and untagged ones; `find` + `plan` + a dry run
//! that deletes nothing, then a real sweep that deletes exactly the run's resources, in
//! dependency order. Talks only to 127.0.0.1 and stops the moto it starts by its PID.
//!
//! The run's two security groups reference each other, as the seed's scenarios make
//! them (the load balancer's group lets the nodes in and the nodes' group lets the load
//! balancer in). On AWS neither could be deleted before the other's rule is revoked
//! (DependencyViolation); moto 5.2.5 deletes a referenced group anyway, so here the test
//! proves the revokes — that each input names an existing rule exactly, and that the
//! sweep makes them, in order, before the first DeleteSecurityGroup.

use std::collections::BTreeSet;

use iamc_core::aws::created_named;
use iamc_core::aws::sweep::{self, Kind, Selector, Tagged};
use iamc_live::client::{Answer, Client, Credentials};
use iamc_live::emulator::{Emulator, cache_dir, ensure_moto};
use iamc_live::run::{Endpoints, Session};
use serde_json::{Value, json};

const RUN: &str = "20261128T193150Z-1a2b";
const OTHER_RUN: &str = "20261128T180000Z-ff";
const EXPIRES: &str = "2026-11-28T23:31:50Z";

async fn start_moto(logs: &std::path::Path) -> Emulator {
    let venv = ensure_moto(&cache_dir()).await.expect("moto installs (or is cached)");
    Emulator::start_moto(&venv, logs).await.expect("moto starts")
}

fn session(endpoint: &str) -> Session {
    Session {
        client: Client::default(),
        endpoints: Endpoints::One(endpoint.to_string()),
        region: "us-east-1".into(),
        admin: Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "sweep-test-secret".into(),
            session_token: None,
        },
    }
}

async fn call(s: &Session, service: &str, operation: &str, input: Value) -> Answer {
    s.admin(service, operation, input).await.unwrap_or_else(|e| panic!("{service}:{operation}: {e}"))
}

/// A call that must succeed; its answer.
async fn ok(s: &Session, service: &str, operation: &str, input: Value) -> Answer {
    let a = call(s, service, operation, input).await;
    assert!(a.error.is_none(), "{service}:{operation} failed: {:?}\n{}", a.error, a.body);
    a
}

/// A call that must succeed; its output, read by the wire model as the sweep reads answers.
async fn out(s: &Session, service: &str, operation: &str, input: Value) -> Value {
    let a = ok(s, service, operation, input).await;
    iamc_core::wire::output(service, operation, a.status, &a.body)
        .unwrap_or_else(|e| panic!("{service}:{operation}: {e}\n{}", a.body))
}

/// The text at `pointer` (`/Vpc/VpcId`) of an output.
fn text(output: &Value, pointer: &str) -> String {
    output.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {output}")).to_string()
}

/// Tags a resource the way a run does.
async fn tag(s: &Session, kind: Kind, id: &str, run_id: &str) {
    let (service, operation, input) = sweep::tag_call(kind, id, run_id, EXPIRES).expect("the kind is tagged by a call");
    ok(s, service, operation, input).await;
}

fn tags(run_id: &str) -> Value {
    json!([{"Key": sweep::RUN_ID_TAG, "Value": run_id}, {"Key": sweep::EXPIRES_TAG, "Value": EXPIRES}])
}

async fn vpc(s: &Session, cidr: &str) -> String {
    text(&out(s, "ec2", "CreateVpc", json!({"CidrBlock": cidr})).await, "/Vpc/VpcId")
}

async fn subnet(s: &Session, vpc: &str, cidr: &str) -> String {
    let made =
        out(s, "ec2", "CreateSubnet", json!({"VpcId": vpc, "CidrBlock": cidr, "AvailabilityZone": "us-east-1a"})).await;
    text(&made, "/Subnet/SubnetId")
}

/// Trusted by EC2, as the fixtures' roles are.
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Makes an IAM role as a fixture does, tagged (as `tag_fixtures` does) with what
/// `created_named` names, unless `run` is `None`.
async fn role(s: &Session, name: &str, path: &str, run: Option<&str>) {
    let input = json!({"RoleName": name, "Path": path, "AssumeRolePolicyDocument": EC2_TRUST});
    ok(s, "iam", "CreateRole", input.clone()).await;
    let made = created_named("iam", "CreateRole", &input, "");
    assert_eq!(made, [(Kind::Role, name.to_string())]);
    if let Some(run) = run {
        tag(s, Kind::Role, name, run).await;
    }
}

/// Makes an instance profile holding `role` as fixtures do (CreateInstanceProfile +
/// AddRoleToInstanceProfile), tagged unless `run` is `None`.
async fn instance_profile(s: &Session, name: &str, path: &str, role: &str, run: Option<&str>) {
    let input = json!({"InstanceProfileName": name, "Path": path});
    ok(s, "iam", "CreateInstanceProfile", input.clone()).await;
    let made = created_named("iam", "CreateInstanceProfile", &input, "");
    assert_eq!(made, [(Kind::InstanceProfile, name.to_string())]);
    if let Some(run) = run {
        tag(s, Kind::InstanceProfile, name, run).await;
    }
    ok(s, "iam", "AddRoleToInstanceProfile", json!({"InstanceProfileName": name, "RoleName": role})).await;
}

async fn secret(s: &Session, name: &str) -> String {
    text(&out(s, "secretsmanager", "CreateSecret", json!({"Name": name, "SecretString": "x"})).await, "/ARN")
}

/// The rules by which the nodes' group and the load balancer's group reference each
/// other: the nodes let in the load balancer on 6443 (as the seed's
/// AuthorizeSecurityGroupIngress scenario, with a description) and themselves on
/// everything; the load balancer lets in the nodes on everything and sends to them on 443.
async fn reference_each_other(s: &Session, nodes: &str, lb: &str) {
    let rules = [
        (
            "AuthorizeSecurityGroupIngress",
            nodes,
            json!({"IpProtocol": "tcp", "FromPort": 6443, "ToPort": 6443,
            "UserIdGroupPairs": [{"GroupId": lb, "Description": "Kubernetes API"}]}),
        ),
        ("AuthorizeSecurityGroupIngress", nodes, json!({"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": nodes}]})),
        ("AuthorizeSecurityGroupIngress", lb, json!({"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": nodes}]})),
        (
            "AuthorizeSecurityGroupEgress",
            lb,
            json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "UserIdGroupPairs": [{"GroupId": nodes}]}),
        ),
    ];
    for (operation, group, permission) in rules {
        ok(s, "ec2", operation, json!({"GroupId": group, "IpPermissions": [permission]})).await;
    }
}

/// The revokes a sweep makes for [`reference_each_other`], in order (by group id; a
/// group's reference to itself is left).
fn expected_revokes(nodes: &str, lb: &str) -> Vec<String> {
    let of_nodes = vec![format!("ec2:RevokeSecurityGroupIngress {nodes}/{lb} tcp 6443-6443")];
    let of_lb = vec![
        format!("ec2:RevokeSecurityGroupIngress {lb}/{nodes} -1"),
        format!("ec2:RevokeSecurityGroupEgress {lb}/{nodes} tcp 443-443"),
    ];
    if nodes < lb { [of_nodes, of_lb].concat() } else { [of_lb, of_nodes].concat() }
}

/// What the run under sweep created.
struct RunResources {
    vpc: String,
    subnet: String,
    group: String,
    /// The load balancer's group: it and `group` reference each other.
    lb_group: String,
    igw: String,
    route_table: String,
    association: String,
    address: String,
    nat_address: String,
    nat: String,
    launch_template: String,
    key_pair: String,
    key_name: String,
    volume: String,
    instance: String,
    load_balancer: String,
    asg: String,
    secret: String,
    /// A fixture-like role: a managed policy attached, an inline policy, in `profile`.
    iam_role: String,
    policy_arn: String,
    inline_policy: String,
    profile: String,
    role_name: String,
    role_arn: String,
    stack: String,
    /// A role the stack made, carrying the run's tags as AWS's propagation of stack tags
    /// may give it: it goes with the stack, not by itself.
    stack_role: String,
}

impl RunResources {
    fn expected(&self) -> BTreeSet<(Kind, String)> {
        [
            (Kind::AutoScalingGroup, &self.asg),
            (Kind::LoadBalancer, &self.load_balancer),
            (Kind::Instance, &self.instance),
            (Kind::NatGateway, &self.nat),
            (Kind::Address, &self.address),
            (Kind::Address, &self.nat_address),
            (Kind::RouteTable, &self.route_table),
            (Kind::InternetGateway, &self.igw),
            (Kind::Subnet, &self.subnet),
            (Kind::SecurityGroup, &self.group),
            (Kind::SecurityGroup, &self.lb_group),
            (Kind::Vpc, &self.vpc),
            (Kind::LaunchTemplate, &self.launch_template),
            (Kind::KeyPair, &self.key_pair),
            (Kind::Volume, &self.volume),
            (Kind::Secret, &self.secret),
            (Kind::InstanceProfile, &self.profile),
            (Kind::Role, &self.iam_role),
            (Kind::ServiceLinkedRole, &self.role_arn),
            (Kind::Stack, &self.stack),
        ]
        .into_iter()
        .map(|(k, id)| (k, id.clone()))
        .collect()
    }
}

/// Everything a run can leave behind, each resource tagged with `tag_call` right after
/// its creation (the launch template also at creation: see below).
async fn create_run(s: &Session, run: &str) -> RunResources {
    let vpc = vpc(s, "10.0.0.0/16").await;
    tag(s, Kind::Vpc, &vpc, run).await;
    let subnet = subnet(s, &vpc, "10.0.1.0/24").await;
    tag(s, Kind::Subnet, &subnet, run).await;
    let made = out(
        s,
        "ec2",
        "CreateSecurityGroup",
        json!({"GroupName": "sweep-nodes", "Description": "sweep test", "VpcId": vpc}),
    )
    .await;
    let group = text(&made, "/GroupId");
    tag(s, Kind::SecurityGroup, &group, run).await;
    let made = out(
        s,
        "ec2",
        "CreateSecurityGroup",
        json!({"GroupName": "sweep-apiserver-lb", "Description": "sweep test", "VpcId": vpc}),
    )
    .await;
    let lb_group = text(&made, "/GroupId");
    tag(s, Kind::SecurityGroup, &lb_group, run).await;
    reference_each_other(s, &group, &lb_group).await;
    let igw = text(&out(s, "ec2", "CreateInternetGateway", json!({})).await, "/InternetGateway/InternetGatewayId");
    tag(s, Kind::InternetGateway, &igw, run).await;
    ok(s, "ec2", "AttachInternetGateway", json!({"InternetGatewayId": igw, "VpcId": vpc})).await;
    let route_table = text(&out(s, "ec2", "CreateRouteTable", json!({"VpcId": vpc})).await, "/RouteTable/RouteTableId");
    tag(s, Kind::RouteTable, &route_table, run).await;
    ok(
        s,
        "ec2",
        "CreateRoute",
        json!({"RouteTableId": route_table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}),
    )
    .await;
    let made = out(s, "ec2", "AssociateRouteTable", json!({"RouteTableId": route_table, "SubnetId": subnet})).await;
    let association = text(&made, "/AssociationId");
    let address = text(&out(s, "ec2", "AllocateAddress", json!({"Domain": "vpc"})).await, "/AllocationId");
    tag(s, Kind::Address, &address, run).await;
    let nat_address = text(&out(s, "ec2", "AllocateAddress", json!({"Domain": "vpc"})).await, "/AllocationId");
    tag(s, Kind::Address, &nat_address, run).await;
    let made = out(s, "ec2", "CreateNatGateway", json!({"SubnetId": subnet, "AllocationId": nat_address})).await;
    let nat = text(&made, "/NatGateway/NatGatewayId");
    tag(s, Kind::NatGateway, &nat, run).await;
    // moto lists a launch template with the tags it was created with only (CreateTags
    // on it is recorded — the tag-key filter matches it — but DescribeLaunchTemplates
    // does not show them), so the template is also tagged at creation, as a run on AWS
    // may do; `tag_call` is still applied as for every other kind.
    let made = out(
        s,
        "ec2",
        "CreateLaunchTemplate",
        json!({
            "LaunchTemplateName": "sweep-lt",
            "LaunchTemplateData": {"InstanceType": "t3.micro"},
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": tags(run)}]
        }),
    )
    .await;
    let launch_template = text(&made, "/LaunchTemplate/LaunchTemplateId");
    tag(s, Kind::LaunchTemplate, &launch_template, run).await;
    let key_pair = text(&out(s, "ec2", "CreateKeyPair", json!({"KeyName": "sweep-key"})).await, "/KeyPairId");
    tag(s, Kind::KeyPair, &key_pair, run).await;
    let made = out(s, "ec2", "CreateVolume", json!({"AvailabilityZone": "us-east-1a", "Size": 1})).await;
    let volume = text(&made, "/VolumeId");
    tag(s, Kind::Volume, &volume, run).await;
    let image = text(&out(s, "ec2", "DescribeImages", json!({"Owners": ["amazon"]})).await, "/Images/0/ImageId");
    let made = out(
        s,
        "ec2",
        "RunInstances",
        json!({"ImageId": image, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro", "SubnetId": subnet,
               "SecurityGroupIds": [group]}),
    )
    .await;
    let instance = text(&made, "/Instances/0/InstanceId");
    tag(s, Kind::Instance, &instance, run).await;
    let load_balancer = "sweep-apiserver".to_string();
    ok(
        s,
        "elasticloadbalancing",
        "CreateLoadBalancer",
        json!({"LoadBalancerName": load_balancer, "Subnets": [subnet], "SecurityGroups": [group],
               "Listeners": [{"Protocol": "TCP", "LoadBalancerPort": 6443, "InstancePort": 6443}]}),
    )
    .await;
    tag(s, Kind::LoadBalancer, &load_balancer, run).await;
    let asg = "sweep-nodes".to_string();
    ok(
        s,
        "autoscaling",
        "CreateAutoScalingGroup",
        json!({"AutoScalingGroupName": asg, "MinSize": 0, "MaxSize": 1, "DesiredCapacity": 0,
               "VPCZoneIdentifier": subnet,
               "LaunchTemplate": {"LaunchTemplateId": launch_template, "Version": "$Latest"}}),
    )
    .await;
    tag(s, Kind::AutoScalingGroup, &asg, run).await;
    let secret = secret(s, "aws.cluster.x-k8s.io/sweep-run").await;
    tag(s, Kind::Secret, &secret, run).await;
    // As the seed's fixtures: a role trusted by EC2 in an instance profile (under a path,
    // as pool-a's), both tagged; here also with a managed and an inline policy.
    let iam_role = "sweep-run-role".to_string();
    role(s, &iam_role, "/", Some(run)).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeTags", "Resource": "*"}]});
    let made =
        out(s, "iam", "CreatePolicy", json!({"PolicyName": "sweep-run-policy", "PolicyDocument": policy.to_string()}))
            .await;
    let policy_arn = text(&made, "/Policy/Arn");
    ok(s, "iam", "AttachRolePolicy", json!({"RoleName": iam_role, "PolicyArn": policy_arn})).await;
    let inline_policy = "sweep-inline".to_string();
    ok(
        s,
        "iam",
        "PutRolePolicy",
        json!({"RoleName": iam_role, "PolicyName": inline_policy, "PolicyDocument": policy.to_string()}),
    )
    .await;
    let profile = "sweep-run-profile".to_string();
    instance_profile(s, &profile, "/team-a/", &iam_role, Some(run)).await;
    let made = out(s, "iam", "CreateServiceLinkedRole", json!({"AWSServiceName": "autoscaling.amazonaws.com"})).await;
    let role_arn = text(&made, "/Role/Arn");
    let role_name = text(&made, "/Role/RoleName");
    assert_eq!(sweep::kind_of(&role_arn), Some(Kind::ServiceLinkedRole), "{role_arn}");
    tag(s, Kind::ServiceLinkedRole, &role_arn, run).await;
    let stack = "sweep-stack".to_string();
    assert_eq!(sweep::tag_call(Kind::Stack, &stack, run, EXPIRES), None, "a stack is tagged by CreateStack");
    let stack_role = "sweep-stack-role".to_string();
    let template = json!({"Resources": {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": stack_role,
            "AssumeRolePolicyDocument": serde_json::from_str::<Value>(EC2_TRUST).unwrap()}}
    }});
    ok(
        s,
        "cloudformation",
        "CreateStack",
        json!({"StackName": stack, "TemplateBody": template.to_string(), "Tags": tags(run)}),
    )
    .await;
    // moto propagates a stack's tags to its EC2 resources only; AWS may to its roles.
    tag(s, Kind::Role, &stack_role, run).await;
    // Every produced id is recognised for tagging by kind.
    for (kind, id) in [
        (Kind::Vpc, &vpc),
        (Kind::Subnet, &subnet),
        (Kind::SecurityGroup, &group),
        (Kind::SecurityGroup, &lb_group),
        (Kind::InternetGateway, &igw),
        (Kind::RouteTable, &route_table),
        (Kind::Address, &address),
        (Kind::NatGateway, &nat),
        (Kind::LaunchTemplate, &launch_template),
        (Kind::KeyPair, &key_pair),
        (Kind::Volume, &volume),
        (Kind::Instance, &instance),
        (Kind::Secret, &secret),
    ] {
        assert_eq!(sweep::kind_of(id), Some(kind), "{id}");
    }
    RunResources {
        vpc,
        subnet,
        group,
        lb_group,
        igw,
        route_table,
        association,
        address,
        nat_address,
        nat,
        launch_template,
        key_pair,
        key_name: "sweep-key".into(),
        volume,
        instance,
        load_balancer,
        asg,
        secret,
        iam_role,
        policy_arn,
        inline_policy,
        profile,
        role_name,
        role_arn,
        stack,
        stack_role,
    }
}

fn of_run<'a>(found: &'a [Tagged], run: &str) -> Vec<&'a Tagged> {
    found.iter().filter(|t| t.run_id.as_deref() == Some(run)).collect()
}

fn ids(found: &[&Tagged]) -> BTreeSet<(Kind, String)> {
    found.iter().map(|t| (t.kind, t.id.clone())).collect()
}

fn sorted(mut found: Vec<Tagged>) -> Vec<Tagged> {
    found.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    found
}

/// The answer says the resource does not exist (not some other failure).
fn assert_gone(a: &Answer, what: &str) {
    let (code, message) = a.error.as_ref().unwrap_or_else(|| panic!("{what} still exists:\n{}", a.body));
    let gone = code.contains("NotFound")
        || code == "NoSuchEntity"
        || code == "ResourceNotFoundException"
        || (code == "ValidationError" && message.contains("does not exist"));
    assert!(gone, "{what}: expected a not-found answer, got {code}: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_deletes_exactly_one_runs_resources_in_dependency_order() {
    let logs = tempfile::tempdir().unwrap();
    let mut moto = start_moto(logs.path()).await;
    let s = session(&moto.endpoint);

    let mine = create_run(&s, RUN).await;
    // Another run's resources, and untagged ones.
    let other_vpc = vpc(&s, "10.1.0.0/16").await;
    tag(&s, Kind::Vpc, &other_vpc, OTHER_RUN).await;
    let other_subnet = subnet(&s, &other_vpc, "10.1.1.0/24").await;
    tag(&s, Kind::Subnet, &other_subnet, OTHER_RUN).await;
    let other_secret = secret(&s, "aws.cluster.x-k8s.io/sweep-other").await;
    tag(&s, Kind::Secret, &other_secret, OTHER_RUN).await;
    let other_role = "sweep-other-role".to_string();
    role(&s, &other_role, "/", Some(OTHER_RUN)).await;
    let untagged_vpc = vpc(&s, "10.2.0.0/16").await;
    let untagged_secret = secret(&s, "aws.cluster.x-k8s.io/sweep-untagged").await;
    let untagged_role = "sweep-untagged-role".to_string();
    role(&s, &untagged_role, "/", None).await;
    // An untagged instance profile that holds the run's role: the sweep takes the role
    // out of it (found by ListInstanceProfilesForRole) and leaves the profile.
    let untagged_profile = "sweep-untagged-profile".to_string();
    instance_profile(&s, &untagged_profile, "/", &mine.iam_role, None).await;
    let others: BTreeSet<(Kind, String)> = [
        (Kind::Vpc, other_vpc.clone()),
        (Kind::Subnet, other_subnet.clone()),
        (Kind::Secret, other_secret.clone()),
        (Kind::Role, other_role.clone()),
    ]
    .into_iter()
    .collect();

    // find: exactly the two runs' resources, with both tags and what deletion needs.
    let found = iamc_live::sweep::find(&s).await.expect("find lists every service");
    assert_eq!(ids(&of_run(&found, RUN)), mine.expected(), "{found:#?}");
    assert_eq!(ids(&of_run(&found, OTHER_RUN)), others, "{found:#?}");
    assert_eq!(of_run(&found, RUN).len() + of_run(&found, OTHER_RUN).len(), found.len(), "{found:#?}");
    assert!(
        !found.iter().any(|t| [&untagged_vpc, &untagged_secret, &untagged_role, &untagged_profile].contains(&&t.id)),
        "{found:#?}"
    );
    assert!(!found.iter().any(|t| t.id == mine.stack_role), "the stack's role goes with the stack: {found:#?}");
    for t in &found {
        assert_eq!(t.expires.as_deref(), Some(EXPIRES), "{t:?}");
    }
    let get = |kind: Kind, id: &str| found.iter().find(|t| t.kind == kind && t.id == id).unwrap().clone();
    assert_eq!(get(Kind::InternetGateway, &mine.igw).attached_to, std::slice::from_ref(&mine.vpc));
    assert_eq!(get(Kind::RouteTable, &mine.route_table).attached_to, std::slice::from_ref(&mine.association));
    assert!(get(Kind::Address, &mine.address).attached_to.is_empty());
    assert_eq!(get(Kind::KeyPair, &mine.key_pair).name.as_deref(), Some("sweep-key"));
    assert_eq!(get(Kind::Address, &mine.nat_address).attached_to.len(), 1, "the NAT gateway's address is associated");
    assert_eq!(get(Kind::InstanceProfile, &mine.profile).attached_to, std::slice::from_ref(&mine.iam_role));

    // plan: only this run, in dependency order.
    let planned = sweep::plan(&found, &Selector::RunId(RUN.into()), std::time::SystemTime::now());
    assert_eq!(ids(&planned.iter().collect::<Vec<_>>()), mine.expected());
    let kinds: Vec<Kind> = planned.iter().map(|t| t.kind).collect();
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");

    // The calls, in the order a sweep makes them.
    let mut addresses = [mine.address.clone(), mine.nat_address.clone()];
    addresses.sort();
    let nat_association = get(Kind::Address, &mine.nat_address).attached_to[0].clone();
    let mut expected_calls = vec![
        format!("autoscaling:DeleteAutoScalingGroup {}", mine.asg),
        format!("elasticloadbalancing:DeleteLoadBalancer {}", mine.load_balancer),
        format!("ec2:TerminateInstances {}", mine.instance),
        format!("ec2:DeleteNatGateway {}", mine.nat),
    ];
    for a in &addresses {
        if *a == mine.nat_address {
            expected_calls.push(format!("ec2:DisassociateAddress {a}/{nat_association}"));
        }
        expected_calls.push(format!("ec2:ReleaseAddress {a}"));
    }
    expected_calls.extend([
        format!("ec2:DisassociateRouteTable {}/{}", mine.route_table, mine.association),
        format!("ec2:DeleteRouteTable {}", mine.route_table),
        format!("ec2:DetachInternetGateway {}/{}", mine.igw, mine.vpc),
        format!("ec2:DeleteInternetGateway {}", mine.igw),
        format!("ec2:DeleteSubnet {}", mine.subnet),
    ]);
    // Before the first group goes, the rules by which the groups reference each other are
    // listed and revoked; the dry run names the listing and what follows it.
    let mut groups = [mine.group.clone(), mine.lb_group.clone()];
    groups.sort();
    let listing = format!("ec2:DescribeSecurityGroups {}", groups.join(","));
    let revokes = expected_revokes(&mine.group, &mine.lb_group);
    let group_deletes: Vec<String> = groups.iter().map(|g| format!("ec2:DeleteSecurityGroup {g}")).collect();
    let mut expected_dry = expected_calls.clone();
    expected_dry.push(format!(
        "{listing} (then ec2:RevokeSecurityGroupIngress or ec2:RevokeSecurityGroupEgress for each rule it lists that \
         references another group)"
    ));
    expected_calls.push(listing);
    expected_calls.extend(revokes.clone());
    for calls in [&mut expected_calls, &mut expected_dry] {
        calls.extend(group_deletes.clone());
    }
    let after_groups = [
        format!("ec2:DeleteVpc {}", mine.vpc),
        format!("ec2:DeleteLaunchTemplate {}", mine.launch_template),
        format!("ec2:DeleteKeyPair {}", mine.key_name),
        format!("ec2:DeleteVolume {}", mine.volume),
        format!("secretsmanager:DeleteSecret {}", mine.secret),
        format!("iam:RemoveRoleFromInstanceProfile {}/{}", mine.profile, mine.iam_role),
        format!("iam:DeleteInstanceProfile {}", mine.profile),
    ];
    for calls in [&mut expected_calls, &mut expected_dry] {
        calls.extend(after_groups.clone());
    }
    // What holds the role is listed at delete time: a dry run names the listings, the
    // sweep makes them and undoes what they list (the tagged profile is gone by then;
    // the untagged one still holds the role).
    let after_role = [
        format!("iam:DeleteRole {}", mine.iam_role),
        format!("iam:DeleteServiceLinkedRole {}", mine.role_name),
        format!("cloudformation:DeleteStack {}", mine.stack),
    ];
    expected_dry.extend([
        format!(
            "iam:ListInstanceProfilesForRole {} (then iam:RemoveRoleFromInstanceProfile for each it lists)",
            mine.iam_role
        ),
        format!("iam:ListAttachedRolePolicies {} (then iam:DetachRolePolicy for each it lists)", mine.iam_role),
        format!("iam:ListRolePolicies {} (then iam:DeleteRolePolicy for each it lists)", mine.iam_role),
    ]);
    expected_dry.extend(after_role.clone());
    expected_calls.extend([
        format!("iam:ListInstanceProfilesForRole {}", mine.iam_role),
        format!("iam:RemoveRoleFromInstanceProfile {}/{untagged_profile}", mine.iam_role),
        format!("iam:ListAttachedRolePolicies {}", mine.iam_role),
        format!("iam:DetachRolePolicy {}/{}", mine.iam_role, mine.policy_arn),
        format!("iam:ListRolePolicies {}", mine.iam_role),
        format!("iam:DeleteRolePolicy {}/{}", mine.iam_role, mine.inline_policy),
    ]);
    expected_calls.extend(after_role);

    // Dry run: the calls are listed, nothing is deleted.
    let dry = iamc_live::sweep::delete(&s, &planned, true).await;
    assert_eq!(dry.len(), planned.len());
    for (d, t) in dry.iter().zip(&planned) {
        assert_eq!((d.kind, &d.id), (t.kind, &t.id));
        assert_eq!(d.result, Ok(()), "{d:?}");
    }
    let dry_calls: Vec<String> = dry.iter().flat_map(|d| d.calls.clone()).collect();
    assert_eq!(dry_calls, expected_dry);
    let after_dry_run = iamc_live::sweep::find(&s).await.expect("find after the dry run");
    assert_eq!(sorted(after_dry_run), sorted(found.clone()), "a dry run deletes nothing");

    // The revokes, from moto's own DescribeSecurityGroups answer, are those expected, and
    // each names an existing rule exactly: authorizing it again is refused as a duplicate
    // (a revoke that matched nothing would answer InvalidPermission.NotFound, which the
    // sweep counts as done).
    let listed = out(&s, "ec2", "DescribeSecurityGroups", json!({"GroupIds": groups})).await;
    let unlink = sweep::group_reference_revokes(&listed);
    assert_eq!(unlink.iter().map(|c| c.label.clone()).collect::<Vec<_>>(), revokes, "{listed}");
    for c in &unlink {
        let authorize = c.operation.replace("Revoke", "Authorize");
        let a = call(&s, c.service, &authorize, c.input.clone()).await;
        let code = a.error.as_ref().map(|(code, _)| code.as_str());
        assert_eq!(code, Some("InvalidPermission.Duplicate"), "{} {}: {:?}", c.label, c.input, a.error);
    }

    // The sweep itself.
    let done = iamc_live::sweep::delete(&s, &planned, false).await;
    for d in &done {
        assert_eq!(d.result, Ok(()), "{d:#?}");
    }
    let made: Vec<String> = done.iter().flat_map(|d| d.calls.clone()).collect();
    assert_eq!(made, expected_calls, "the calls made are those the dry run listed, with what the listings found");

    // Exactly the run's resources are gone; the other run's and the untagged ones stay.
    let after = iamc_live::sweep::find(&s).await.expect("find after the sweep");
    assert!(of_run(&after, RUN).is_empty(), "{after:#?}");
    assert_eq!(ids(&of_run(&after, OTHER_RUN)), others);
    assert_eq!(after.len(), others.len(), "{after:#?}");

    let ec2_gone = [
        ("DescribeVpcs", json!({"VpcIds": [mine.vpc]})),
        ("DescribeSubnets", json!({"SubnetIds": [mine.subnet]})),
        ("DescribeSecurityGroups", json!({"GroupIds": [mine.group]})),
        ("DescribeSecurityGroups", json!({"GroupIds": [mine.lb_group]})),
        ("DescribeInternetGateways", json!({"InternetGatewayIds": [mine.igw]})),
        ("DescribeRouteTables", json!({"RouteTableIds": [mine.route_table]})),
        ("DescribeAddresses", json!({"AllocationIds": [mine.address]})),
        ("DescribeAddresses", json!({"AllocationIds": [mine.nat_address]})),
        ("DescribeLaunchTemplates", json!({"LaunchTemplateIds": [mine.launch_template]})),
        ("DescribeKeyPairs", json!({"KeyPairIds": [mine.key_pair]})),
        ("DescribeVolumes", json!({"VolumeIds": [mine.volume]})),
    ];
    for (operation, input) in ec2_gone {
        let a = call(&s, "ec2", operation, input.clone()).await;
        // AWS answers NotFound for an unknown id; moto's DescribeLaunchTemplates answers
        // an empty list.
        let id = input.as_object().unwrap().values().next().unwrap()[0].as_str().unwrap().to_string();
        if a.error.is_some() || a.body.contains(&id) {
            assert_gone(&a, &format!("ec2:{operation} {input}"));
        }
    }
    let listed = out(&s, "ec2", "DescribeInstances", json!({"InstanceIds": [mine.instance]})).await;
    assert_eq!(text(&listed, "/Reservations/0/Instances/0/State/Name"), "terminated");
    let listed = out(&s, "ec2", "DescribeNatGateways", json!({"NatGatewayIds": [mine.nat]})).await;
    assert_eq!(text(&listed, "/NatGateways/0/State"), "deleted");
    let listed =
        out(&s, "autoscaling", "DescribeAutoScalingGroups", json!({"AutoScalingGroupNames": [mine.asg]})).await;
    assert_eq!(listed["AutoScalingGroups"], json!([]), "{listed}");
    let a =
        call(&s, "elasticloadbalancing", "DescribeLoadBalancers", json!({"LoadBalancerNames": [mine.load_balancer]}))
            .await;
    assert_gone(&a, "load balancer");
    assert_gone(&call(&s, "secretsmanager", "DescribeSecret", json!({"SecretId": mine.secret})).await, "secret");
    assert_gone(&call(&s, "iam", "GetRole", json!({"RoleName": mine.role_name})).await, "service-linked role");
    assert_gone(&call(&s, "cloudformation", "DescribeStacks", json!({"StackName": mine.stack})).await, "stack");
    assert_gone(&call(&s, "iam", "GetRole", json!({"RoleName": mine.iam_role})).await, "role");
    assert_gone(
        &call(&s, "iam", "GetInstanceProfile", json!({"InstanceProfileName": mine.profile})).await,
        "instance profile",
    );
    assert_gone(&call(&s, "iam", "GetRole", json!({"RoleName": mine.stack_role})).await, "the stack's role");
    // Policies are detached, not deleted: the managed policy stays.
    ok(&s, "iam", "GetPolicy", json!({"PolicyArn": mine.policy_arn})).await;
    ok(&s, "iam", "GetRole", json!({"RoleName": other_role})).await;
    ok(&s, "iam", "GetRole", json!({"RoleName": untagged_role})).await;
    let listed = out(&s, "iam", "GetInstanceProfile", json!({"InstanceProfileName": untagged_profile})).await;
    assert_eq!(listed["InstanceProfile"]["Roles"], json!([]), "the run's role left the untagged profile: {listed}");

    let listed = out(&s, "ec2", "DescribeVpcs", json!({"VpcIds": [other_vpc, untagged_vpc]})).await;
    assert_eq!(listed["Vpcs"].as_array().map(Vec::len), Some(2), "{listed}");
    ok(&s, "ec2", "DescribeSubnets", json!({"SubnetIds": [other_subnet]})).await;
    ok(&s, "secretsmanager", "DescribeSecret", json!({"SecretId": other_secret})).await;
    ok(&s, "secretsmanager", "DescribeSecret", json!({"SecretId": untagged_secret})).await;

    moto.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deletion_is_recorded_and_the_sweep_goes_on() {
    let logs = tempfile::tempdir().unwrap();
    let mut moto = start_moto(logs.path()).await;
    let s = session(&moto.endpoint);

    // A tagged VPC that still holds an untagged subnet cannot be deleted.
    let blocked = vpc(&s, "10.0.0.0/16").await;
    tag(&s, Kind::Vpc, &blocked, RUN).await;
    let foreign = subnet(&s, &blocked, "10.0.1.0/24").await;
    let secret = secret(&s, "aws.cluster.x-k8s.io/sweep-after-failure").await;
    tag(&s, Kind::Secret, &secret, RUN).await;
    let found = iamc_live::sweep::find(&s).await.expect("find");
    let mut planned = sweep::plan(&found, &Selector::RunId(RUN.into()), std::time::SystemTime::now());
    assert_eq!(planned.iter().map(|t| t.kind).collect::<Vec<_>>(), [Kind::Vpc, Kind::Secret]);
    // A resource that is already gone (deleted by hand since `find`) counts as deleted.
    let gone = Tagged {
        kind: Kind::Subnet,
        id: "subnet-0123456789abcdef0".into(),
        run_id: Some(RUN.into()),
        expires: None,
        attached_to: vec![],
        name: None,
    };
    planned.insert(0, gone);

    let done = iamc_live::sweep::delete(&s, &planned, false).await;
    assert_eq!(done.len(), 3);
    assert_eq!(done[0].result, Ok(()), "{:?}", done[0]);
    let failure = done[1].result.as_ref().expect_err("the VPC still has a subnet").to_string();
    assert!(failure.contains("ec2:DeleteVpc") && failure.contains("DependencyViolation"), "{failure}");
    assert_eq!(done[2].result, Ok(()), "{:?}", done[2]);
    assert_eq!(done[2].calls, [format!("secretsmanager:DeleteSecret {secret}")]);

    ok(&s, "ec2", "DescribeSubnets", json!({"SubnetIds": [foreign]})).await;
    ok(&s, "ec2", "DescribeVpcs", json!({"VpcIds": [blocked]})).await;
    assert_gone(&call(&s, "secretsmanager", "DescribeSecret", json!({"SecretId": secret})).await, "secret");

    moto.stop().await;
}
