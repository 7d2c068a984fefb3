//! The gate answers its lookups from its record of what passed through it (issue 9,
//! item 2): after an administrator's CreateRole, CreateInstanceProfile and
//! AddRoleToInstanceProfile through the gate, a RunInstances naming the profile is decided
//! without asking moto for the profile's role, and a launch template created through the
//! gate is read from the record at `$Latest`, `$Default` and by number. Each decision is
//! compared with that of a second gate in front of the same moto that saw none of those
//! calls and so asks moto: the checks and verdicts are the same. Likewise for what the
//! record learns from answers (route table and NAT gateway associations, an Auto Scaling
//! group's ARN and instances) and for service-linked roles, whose state one listing gives.
//! Talks only to 127.0.0.1.

use std::sync::Arc;

use iamc_core::policy::{PolicyKind, parse_policy};
use iamc_core::template::render::Target;
use iamc_core::template::yaml;
use iamc_live::client::{Client, Credentials};
use iamc_live::emulator::{Emulator, cache_dir, ensure_moto};
use iamc_live::gate_server::{Gate, GateOptions, GateRecord, GateVerdict, Subject};
use serde_json::{Value, json};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/under-test";
const ROLE_KEY: &str = "AKIAROLEUNDERTEST";
const ROLE_SECRET: &str = "role-secret";
const PASSED_ROLE: &str = "arn:aws:iam::123456789012:role/team-a/node";

/// Launches and templates, and passing roles under `/team-a/` only: the decision depends
/// on the role ARN (with its path) that the profile lookup gives.
const POLICY: &str = "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: [ec2:RunInstances, ec2:CreateTags, ec2:CreateLaunchTemplate, ec2:CreateLaunchTemplateVersion]\n  Resource: '*'\n- Effect: Allow\n  Action: iam:PassRole\n  Resource: 'arn:aws:iam::123456789012:role/team-a/*'\n";

fn admin() -> Credentials {
    Credentials { access_key_id: "AKIAADMINTEST".into(), secret_access_key: "admin-secret".into(), session_token: None }
}

fn role() -> Credentials {
    Credentials { access_key_id: ROLE_KEY.into(), secret_access_key: ROLE_SECRET.into(), session_token: None }
}

fn target() -> Target {
    Target { account_id: "123456789012".into(), ..Target::default() }
}

async fn gate(upstream: &str) -> Gate {
    let node = yaml::parse(POLICY, &Arc::from("policy.yaml")).unwrap();
    let policy = parse_policy("test-policy", &node, PolicyKind::Identity).unwrap();
    let options = GateOptions {
        upstream: upstream.to_string(),
        target: target(),
        admin: admin(),
        subject: Some(Subject { role_arn: ROLE_ARN.into(), policies: vec![policy] }),
    };
    let gate = Gate::start("127.0.0.1:0".parse().unwrap(), options).await.unwrap();
    gate.add_role_credentials(ROLE_KEY, ROLE_SECRET, None, ROLE_ARN);
    gate
}

async fn call(gate: &Gate, creds: &Credentials, service: &str, operation: &str, input: Value) -> String {
    let answer = Client::default()
        .call(&gate.url, &target().region, creds, service, operation, &input, &[])
        .await
        .unwrap_or_else(|e| panic!("{operation} through the gate: {e}"));
    if creds.access_key_id == admin().access_key_id {
        assert!(answer.ok(), "{operation}: moto answered {} {}", answer.status, answer.body);
    }
    answer.body
}

/// The gate's decision of its last request: verdict, reason and checks, comparable.
fn last(gate: &Gate) -> (GateVerdict, Option<String>, Value) {
    let records: Vec<GateRecord> = gate.records();
    let r = records.last().expect("a record");
    (r.verdict, r.reason.clone(), serde_json::to_value(&r.checks).unwrap())
}

/// Decides `operation` as the role on both gates: returns the recording gate's decision
/// after checking that the other gate decided the same and that the recording gate asked
/// moto nothing.
async fn same_decision(
    recording: &Gate,
    asking: &Gate,
    operation: &str,
    input: Value,
) -> (GateVerdict, Option<String>, Value) {
    same_decision_in(recording, asking, "ec2", operation, input).await
}

/// [`same_decision`] for an operation of any service.
async fn same_decision_in(
    recording: &Gate,
    asking: &Gate,
    service: &str,
    operation: &str,
    input: Value,
) -> (GateVerdict, Option<String>, Value) {
    let before = recording.upstream_lookups();
    call(recording, &role(), service, operation, input.clone()).await;
    let recorded = last(recording);
    assert_eq!(
        recording.upstream_lookups(),
        before,
        "{operation} {input}: answered from the record, no lookup in moto"
    );
    let asked_before = asking.upstream_lookups();
    call(asking, &role(), service, operation, input.clone()).await;
    let asked = last(asking);
    assert!(asking.upstream_lookups() > asked_before, "{operation}: the other gate looked up in moto");
    assert_eq!(recorded, asked, "{operation} {input}: the record decides as moto's answers do");
    recorded
}

fn has_check(checks: &Value, action: &str, resource: &str) -> bool {
    checks.as_array().unwrap().iter().any(|c| c["action"] == action && c["resource"] == resource)
}

#[test]
fn lookups_after_recorded_calls_are_answered_from_the_record_and_decide_the_same() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let mut moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    rt.block_on(async {
        let recording = gate(&moto.endpoint).await;
        let asking = gate(&moto.endpoint).await;

        // The administrator's fixtures, through the recording gate only.
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        call(&recording, &admin(), "iam", "CreateRole", json!({"RoleName": "node", "Path": "/team-a/", "AssumeRolePolicyDocument": trust})).await;
        call(&recording, &admin(), "iam", "CreateInstanceProfile", json!({"InstanceProfileName": "node-profile"})).await;
        let add = json!({"InstanceProfileName": "node-profile", "RoleName": "node"});
        call(&recording, &admin(), "iam", "AddRoleToInstanceProfile", add.clone()).await;

        // The profile's role, with its path, from the record.
        let launch = json!({"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1, "IamInstanceProfile": {"Name": "node-profile"}});
        let (verdict, _, checks) = same_decision(&recording, &asking, "RunInstances", launch.clone()).await;
        assert_eq!(verdict, GateVerdict::Forwarded);
        assert!(has_check(&checks, "iam:PassRole", PASSED_ROLE), "{checks}");

        // RemoveRoleFromInstanceProfile empties the recorded profile: no role to pass, so
        // the gate cannot name the PassRole check (as when moto is asked).
        call(&recording, &admin(), "iam", "RemoveRoleFromInstanceProfile", add.clone()).await;
        let (verdict, reason, _) = same_decision(&recording, &asking, "RunInstances", launch.clone()).await;
        assert_ne!(verdict, GateVerdict::Forwarded, "{reason:?}");
        assert!(reason.unwrap_or_default().contains("does not resolve to a role"));
        call(&recording, &admin(), "iam", "AddRoleToInstanceProfile", add).await;

        // A launch template and a second version, created by the role through the gate.
        let data = json!({
            "ImageId": "ami-12c6146b", "KeyName": "node-key", "SecurityGroupIds": ["sg-0a1b2c3d4e5f6000c"],
            "IamInstanceProfile": {"Name": "node-profile"},
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "node"}, {"Key": "empty", "Value": ""}]}],
        });
        let body = call(&recording, &role(), "ec2", "CreateLaunchTemplate", json!({
            "LaunchTemplateName": "world-template", "LaunchTemplateData": data,
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": "node"}]}],
        })).await;
        let id = iamc_core::xml::first(&body, "launchTemplateId").expect("moto created the template");
        call(&recording, &role(), "ec2", "CreateLaunchTemplateVersion", json!({
            "LaunchTemplateId": id, "LaunchTemplateData": {"ImageId": "ami-0b0b0b0b", "KeyName": "other-key"},
        })).await;
        for (template, version, image) in [
            (json!({"LaunchTemplateId": id, "Version": "$Latest"}), "$Latest", "ami-0b0b0b0b"),
            (json!({"LaunchTemplateName": "world-template", "Version": "$Default"}), "$Default", "ami-12c6146b"),
            (json!({"LaunchTemplateName": "world-template"}), "(none)", "ami-12c6146b"),
            (json!({"LaunchTemplateId": id, "Version": "1"}), "1", "ami-12c6146b"),
            (json!({"LaunchTemplateId": id, "Version": "2"}), "2", "ami-0b0b0b0b"),
        ] {
            let input = json!({"MinCount": 1, "MaxCount": 1, "LaunchTemplate": template});
            let (_, reason, checks) = same_decision(&recording, &asking, "RunInstances", input).await;
            let image_arn = format!("arn:aws:ec2:{}::image/{image}", target().region);
            assert!(has_check(&checks, "ec2:RunInstances", &image_arn), "version {version}: {reason:?} {checks}");
            if version != "2" && version != "$Latest" {
                assert!(has_check(&checks, "iam:PassRole", PASSED_ROLE), "version {version}: {checks}");
            }
        }

        // A version the record does not know is asked of moto.
        let before = recording.upstream_lookups();
        let input = json!({"MinCount": 1, "MaxCount": 1, "LaunchTemplate": {"LaunchTemplateId": id, "Version": "7"}});
        call(&recording, &role(), "ec2", "RunInstances", input).await;
        assert!(recording.upstream_lookups() > before, "an unknown version is looked up");
        assert!(last(&recording).1.unwrap_or_default().contains("launch template"));
    });
    rt.block_on(moto.terminate());
}

fn out(service: &str, operation: &str, body: &str) -> Value {
    iamc_core::wire::output(service, operation, 200, body).unwrap_or_else(|e| panic!("{operation}: {e}"))
}

#[test]
fn associations_groups_and_service_linked_roles_are_answered_from_the_record() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let mut moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    rt.block_on(async {
        let recording = gate(&moto.endpoint).await;
        let asking = gate(&moto.endpoint).await;
        let ec2 = format!("arn:aws:ec2:{}:123456789012", target().region);
        let admin_call = |op: &'static str, input: Value| {
            let recording = &recording;
            async move { out("ec2", op, &call(recording, &admin(), "ec2", op, input).await) }
        };

        // A subnet's route table association, made through the recording gate; the role's
        // DisassociateRouteTable is refused (the policy does not grant it), so moto keeps it.
        let vpc = admin_call("CreateVpc", json!({"CidrBlock": "10.0.0.0/16"})).await["Vpc"]["VpcId"].clone();
        let subnet =
            admin_call("CreateSubnet", json!({"VpcId": vpc, "CidrBlock": "10.0.1.0/24"})).await["Subnet"]["SubnetId"]
                .as_str()
                .unwrap()
                .to_string();
        let table = admin_call("CreateRouteTable", json!({"VpcId": vpc})).await["RouteTable"]["RouteTableId"]
            .as_str()
            .unwrap()
            .to_string();
        let association = admin_call("AssociateRouteTable", json!({"RouteTableId": table, "SubnetId": subnet}))
            .await["AssociationId"]
            .clone();
        let input = json!({"AssociationId": association});
        let (verdict, _, checks) = same_decision(&recording, &asking, "DisassociateRouteTable", input).await;
        assert_ne!(verdict, GateVerdict::Forwarded);
        assert!(has_check(&checks, "ec2:DisassociateRouteTable", &format!("{ec2}:route-table/{table}")), "{checks}");
        assert!(has_check(&checks, "ec2:DisassociateRouteTable", &format!("{ec2}:subnet/{subnet}")), "{checks}");

        // A NAT gateway's address association, from CreateNatGateway's answer.
        let allocation =
            admin_call("AllocateAddress", json!({"Domain": "vpc"})).await["AllocationId"].as_str().unwrap().to_string();
        let nat = admin_call("CreateNatGateway", json!({"SubnetId": subnet, "AllocationId": allocation})).await;
        let association = nat["NatGateway"]["NatGatewayAddresses"][0]["AssociationId"].clone();
        let input = json!({"AssociationId": association});
        let (_, _, checks) = same_decision(&recording, &asking, "DisassociateAddress", input).await;
        assert!(has_check(&checks, "ec2:DisassociateAddress", &format!("{ec2}:elastic-ip/{allocation}")), "{checks}");

        // A group created through the recording gate is read again at once, in the
        // background: its ARN and its instance are known when the role's calls come.
        let template = admin_call(
            "CreateLaunchTemplate",
            json!({"LaunchTemplateName": "group-template", "LaunchTemplateData": {"ImageId": "ami-12c6146b"}}),
        )
        .await["LaunchTemplate"]["LaunchTemplateId"]
            .clone();
        let group = json!({"AutoScalingGroupName": "world-group", "MinSize": 1, "MaxSize": 2,
            "LaunchTemplate": {"LaunchTemplateId": template}, "VPCZoneIdentifier": subnet});
        call(&recording, &admin(), "autoscaling", "CreateAutoScalingGroup", group).await;
        let input = json!({"AutoScalingGroupName": "world-group", "MaxSize": 3});
        let (_, _, checks) =
            same_decision_in(&recording, &asking, "autoscaling", "UpdateAutoScalingGroup", input).await;
        let arn = checks
            .as_array()
            .unwrap()
            .iter()
            .find_map(|c| c["resource"].as_str().filter(|r| r.contains(":autoScalingGroup:")));
        assert!(arn.is_some_and(|a| !a.contains(":autoScalingGroup:*:")), "the group's own ARN: {checks}");
        let described = Client::default()
            .call(
                &moto.endpoint,
                &target().region,
                &admin(),
                "autoscaling",
                "DescribeAutoScalingGroups",
                &json!({}),
                &[],
            )
            .await
            .unwrap();
        let groups = out("autoscaling", "DescribeAutoScalingGroups", &described.body);
        let instance = groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"].clone();
        let input = json!({"InstanceId": instance, "ShouldDecrementDesiredCapacity": false});
        let terminate = "TerminateInstanceInAutoScalingGroup";
        // (A gate that has seen none of it: the other one learnt the group from its lookup.)
        let fresh = gate(&moto.endpoint).await;
        let (_, _, checks) = same_decision_in(&recording, &fresh, "autoscaling", terminate, input).await;
        assert!(checks.to_string().contains("autoScalingGroupName/world-group"), "{checks}");

        // Service-linked roles: the first need lists them all (one lookup), the next is
        // answered from that listing.
        let before = recording.upstream_lookups();
        let create = json!({"AutoScalingGroupName": "refused", "MinSize": 0, "MaxSize": 1,
            "LaunchTemplate": {"LaunchTemplateId": template}, "VPCZoneIdentifier": subnet});
        call(&recording, &role(), "autoscaling", "CreateAutoScalingGroup", create).await;
        let (_, _, checks) = last(&recording);
        assert!(checks.to_string().contains("AWSServiceRoleForAutoScaling"), "{checks}");
        assert_eq!(recording.upstream_lookups(), before + 1, "one listing of the service-linked roles");
        let spot = json!({"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1,
            "InstanceMarketOptions": {"MarketType": "spot"}});
        let (_, _, checks) = same_decision(&recording, &asking, "RunInstances", spot).await;
        assert!(checks.to_string().contains("AWSServiceRoleForEC2Spot"), "{checks}");
    });
    rt.block_on(moto.terminate());
}
