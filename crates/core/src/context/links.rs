//! What the gate's record ([`super::world::Observed`]) learns beyond creations: which
//! associations link a route table or an Elastic IP address to what, which instances an
//! Auto Scaling group holds, and which service-linked roles are known *not* to exist.
//! Each fact comes from an answer that passed through the gate (or a lookup's answer) and
//! is dropped by any call that may end it; the gate then asks the emulator again.
//! Answers are read by the wire model (`wire::output`). See docs/gate.md, "The record".

use std::collections::{HashMap, HashSet};

use serde_json::Value;

/// A fact the gate reads again in the background right after a call that may have changed
/// it, so that the next decision that needs it finds it known.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Refresh {
    /// Whether the service-linked role of this name exists (`iam:GetRole`).
    ServiceLinkedRole(String),
    /// An Auto Scaling group's ARN and instances (`autoscaling:DescribeAutoScalingGroups`).
    Group(String),
}

/// The service-linked roles a successful call may have created: the services create
/// their role when it is missing. Sources: EC2 Auto Scaling API Reference,
/// CreateAutoScalingGroup (`ServiceLinkedRoleARN`: "which it creates if it does not
/// exist"); Elastic Load Balancing User Guide, "Elastic Load Balancing service-linked
/// role" ("creates this role for you when you create a load balancer"); Amazon EC2 User
/// Guide, "Service-linked role for Spot Instances" (created when Spot Instances are
/// requested, by RunInstances, RequestSpotInstances, a fleet or an Auto Scaling group).
const CREATES_SERVICE_LINKED: &[(&str, &str, &[&str])] = &[
    ("autoscaling", "CreateAutoScalingGroup", &["AWSServiceRoleForAutoScaling", "AWSServiceRoleForEC2Spot"]),
    ("autoscaling", "UpdateAutoScalingGroup", &["AWSServiceRoleForEC2Spot"]),
    ("elasticloadbalancing", "CreateLoadBalancer", &["AWSServiceRoleForElasticLoadBalancing"]),
    ("ec2", "RunInstances", &["AWSServiceRoleForEC2Spot"]),
    ("ec2", "RequestSpotInstances", &["AWSServiceRoleForEC2Spot"]),
    ("ec2", "RequestSpotFleet", &["AWSServiceRoleForEC2Spot", "AWSServiceRoleForEC2SpotFleet"]),
    ("ec2", "CreateFleet", &["AWSServiceRoleForEC2Spot", "AWSServiceRoleForEC2SpotFleet"]),
];

/// Auto Scaling calls that never change which instances a group holds.
const KEEPS_MEMBERS: &[&str] = &["CreateOrUpdateTags", "DeleteTags", "CreateAutoScalingGroup"];

/// The facts (see the module comment).
#[derive(Clone, Debug, Default)]
pub struct Links {
    /// Route table association id → (route table id, subnet id when the association is a
    /// subnet's), from `AssociateRouteTable`.
    route_tables: HashMap<String, (String, Option<String>)>,
    /// Elastic IP association id → (allocation id, the NAT gateway that holds it), from
    /// `CreateNatGateway`.
    addresses: HashMap<String, (String, Option<String>)>,
    /// Instance id → the Auto Scaling group holding it, from the groups' descriptions.
    members: HashMap<String, String>,
    /// Service-linked role names known not to exist.
    absent_service_linked: HashSet<String>,
}

/// What a call did to the facts.
#[derive(Debug, Default)]
pub struct Change {
    /// Something was dropped that a lookup under way may have read: its answer is not kept.
    pub ends: bool,
    /// What to read again now.
    pub refresh: Vec<Refresh>,
}

fn text<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

impl Links {
    /// Follows a call the emulator answered with 2xx (`answer`: the body).
    pub fn observe(&mut self, service: &str, operation: &str, input: &Value, answer: &str) -> Change {
        let mut change = Change::default();
        for (s, op, names) in CREATES_SERVICE_LINKED {
            if *s == service && *op == operation {
                for name in names.iter().filter(|n| self.absent_service_linked.remove(**n)) {
                    change.ends = true;
                    change.refresh.push(Refresh::ServiceLinkedRole(name.to_string()));
                }
            }
        }
        match (service, operation) {
            ("ec2", "AssociateRouteTable") => {
                let output = crate::wire::output(service, operation, 200, answer).unwrap_or_default();
                if let (Some(id), Some(table)) = (text(&output, "AssociationId"), text(input, "RouteTableId")) {
                    let subnet = text(input, "SubnetId").map(str::to_string);
                    self.route_tables.insert(id.to_string(), (table.to_string(), subnet));
                }
            }
            ("ec2", "DisassociateRouteTable" | "ReplaceRouteTableAssociation") => {
                change.ends |= text(input, "AssociationId").is_some_and(|id| self.route_tables.remove(id).is_some());
            }
            ("ec2", "DeleteSubnet" | "DeleteRouteTable") => {
                let id = text(input, "SubnetId").or(text(input, "RouteTableId")).unwrap_or_default();
                let before = self.route_tables.len();
                self.route_tables.retain(|_, (table, subnet)| table != id && subnet.as_deref() != Some(id));
                change.ends |= self.route_tables.len() != before;
            }
            ("ec2", "CreateNatGateway") => {
                let output = crate::wire::output(service, operation, 200, answer).unwrap_or_default();
                let gateway = output.get("NatGateway").unwrap_or(&Value::Null);
                let nat = text(gateway, "NatGatewayId").map(str::to_string);
                for a in items(gateway.get("NatGatewayAddresses")) {
                    if let (Some(id), Some(allocation)) = (text(a, "AssociationId"), text(a, "AllocationId")) {
                        self.addresses.insert(id.to_string(), (allocation.to_string(), nat.clone()));
                    }
                }
            }
            ("ec2", "DisassociateAddress" | "AssociateAddress" | "ReleaseAddress" | "DeleteNatGateway") => {
                let before = self.addresses.len();
                let gone = |k: &str| text(input, k);
                self.addresses.retain(|id, (allocation, nat)| {
                    gone("AssociationId") != Some(id.as_str())
                        && gone("AllocationId") != Some(allocation.as_str())
                        && (gone("NatGatewayId").is_none() || gone("NatGatewayId") != nat.as_deref())
                });
                change.ends |= self.addresses.len() != before;
            }
            ("ec2", "TerminateInstances") => {
                for id in items(input.get("InstanceIds")).filter_map(Value::as_str) {
                    change.ends |= self.members.remove(id).is_some();
                }
            }
            ("autoscaling", op) if !op.starts_with("Describe") => {
                let group = text(input, "AutoScalingGroupName");
                if !KEEPS_MEMBERS.contains(&op) {
                    let before = self.members.len();
                    self.members.retain(|_, g| group.is_some_and(|name| name != g));
                    change.ends |= self.members.len() != before;
                }
                if let Some(name) = group.filter(|_| op != "DeleteAutoScalingGroup" && !op.ends_with("Tags")) {
                    change.refresh.push(Refresh::Group(name.to_string()));
                }
            }
            _ => {}
        }
        change
    }

    /// Learns from a description that left the emulator when nothing had ended since
    /// (the caller checks the epoch): `DescribeAutoScalingGroups` and
    /// `DescribeAutoScalingInstances` outputs, as `wire::output` reads them. Returns the
    /// groups' ARNs by name.
    pub fn learn_groups(&mut self, operation: &str, output: &Value) -> Vec<(String, String)> {
        let mut arns = Vec::new();
        match operation {
            "DescribeAutoScalingGroups" => {
                for g in items(output.get("AutoScalingGroups")) {
                    let Some(name) = text(g, "AutoScalingGroupName") else { continue };
                    if let Some(arn) = text(g, "AutoScalingGroupARN") {
                        arns.push((name.to_string(), arn.to_string()));
                    }
                    // A description without the list says nothing of the instances.
                    let Some(instances) = g.get("Instances").and_then(Value::as_array) else { continue };
                    self.members.retain(|_, group| group != name);
                    for id in instances.iter().filter_map(|i| text(i, "InstanceId")) {
                        self.members.insert(id.to_string(), name.to_string());
                    }
                }
            }
            "DescribeAutoScalingInstances" => {
                for i in items(output.get("AutoScalingInstances")) {
                    if let (Some(id), Some(group)) = (text(i, "InstanceId"), text(i, "AutoScalingGroupName")) {
                        self.members.insert(id.to_string(), group.to_string());
                    }
                }
            }
            _ => {}
        }
        arns
    }

    /// Notes that the service-linked role `name` does not exist (the caller checks the epoch).
    pub fn learn_absent_service_linked(&mut self, name: &str) {
        self.absent_service_linked.insert(name.to_string());
    }

    /// Forgets that `name` was absent (it was created).
    pub fn forget_absent_service_linked(&mut self, name: &str) {
        self.absent_service_linked.remove(name);
    }

    /// Whether the service-linked role `name` is known not to exist.
    pub fn service_linked_absent(&self, name: &str) -> bool {
        self.absent_service_linked.contains(name)
    }

    /// The route table and subnet (or the allocation) an association id links, when known.
    pub fn association(&self, id: &str) -> Option<Association> {
        if let Some((table, subnet)) = self.route_tables.get(id) {
            return Some(Association::RouteTable { table: table.clone(), subnet: subnet.clone() });
        }
        self.addresses.get(id).map(|(allocation, _)| Association::Address { allocation: allocation.clone() })
    }

    /// The Auto Scaling group holding `instance`, when known.
    pub fn instance_group(&self, instance: &str) -> Option<String> {
        self.members.get(instance).cloned()
    }
}

/// What an association id links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Association {
    /// A route table's association, with its subnet when it is a subnet's.
    RouteTable {
        /// The route table id.
        table: String,
        /// The subnet id.
        subnet: Option<String>,
    },
    /// An Elastic IP address's association.
    Address {
        /// The allocation id.
        allocation: String,
    },
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ASSOCIATE: &str = "<AssociateRouteTableResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><associationId>rtbassoc-1</associationId><associationState><state>associated</state></associationState></AssociateRouteTableResponse>";

    #[test]
    fn route_table_associations_until_disassociated_or_their_subnet_is_deleted() {
        let mut l = Links::default();
        let input = json!({"RouteTableId": "rtb-1", "SubnetId": "subnet-1"});
        l.observe("ec2", "AssociateRouteTable", &input, ASSOCIATE);
        let known = Association::RouteTable { table: "rtb-1".into(), subnet: Some("subnet-1".into()) };
        assert_eq!(l.association("rtbassoc-1"), Some(known.clone()));
        let change = l.observe("ec2", "DisassociateRouteTable", &json!({"AssociationId": "rtbassoc-1"}), "");
        assert!(change.ends);
        assert_eq!(l.association("rtbassoc-1"), None);

        l.observe("ec2", "AssociateRouteTable", &input, ASSOCIATE);
        l.observe("ec2", "DeleteSubnet", &json!({"SubnetId": "subnet-1"}), "");
        assert_eq!(l.association("rtbassoc-1"), None);
    }

    #[test]
    fn nat_gateway_addresses_until_the_gateway_or_address_goes() {
        let answer = "<CreateNatGatewayResponse><natGateway><natGatewayId>nat-1</natGatewayId><natGatewayAddressSet><item><allocationId>eipalloc-1</allocationId><associationId>eipassoc-1</associationId></item></natGatewayAddressSet></natGateway></CreateNatGatewayResponse>";
        for gone in [
            ("DeleteNatGateway", json!({"NatGatewayId": "nat-1"})),
            ("DisassociateAddress", json!({"AssociationId": "eipassoc-1"})),
            ("ReleaseAddress", json!({"AllocationId": "eipalloc-1"})),
        ] {
            let mut l = Links::default();
            l.observe("ec2", "CreateNatGateway", &json!({"AllocationId": "eipalloc-1"}), answer);
            assert_eq!(l.association("eipassoc-1"), Some(Association::Address { allocation: "eipalloc-1".into() }));
            l.observe("ec2", gone.0, &gone.1, "");
            assert_eq!(l.association("eipassoc-1"), None, "{}", gone.0);
        }
    }

    #[test]
    fn group_members_from_descriptions_until_the_group_changes() {
        let mut l = Links::default();
        let output = json!({"AutoScalingGroups": [{"AutoScalingGroupName": "g", "AutoScalingGroupARN": "arn:g", "Instances": [{"InstanceId": "i-1"}]}]});
        assert_eq!(l.learn_groups("DescribeAutoScalingGroups", &output), vec![("g".to_string(), "arn:g".to_string())]);
        assert_eq!(l.instance_group("i-1").as_deref(), Some("g"));
        // Tagging keeps the members; an update may scale the group: read it again.
        let tag = l.observe("autoscaling", "CreateOrUpdateTags", &json!({}), "");
        assert!(!tag.ends && tag.refresh.is_empty());
        let update = l.observe("autoscaling", "UpdateAutoScalingGroup", &json!({"AutoScalingGroupName": "g"}), "");
        assert!(update.ends);
        assert_eq!(update.refresh, vec![Refresh::Group("g".into())]);
        assert_eq!(l.instance_group("i-1"), None);
        l.learn_groups("DescribeAutoScalingGroups", &output);
        l.observe("ec2", "TerminateInstances", &json!({"InstanceIds": ["i-1"]}), "");
        assert_eq!(l.instance_group("i-1"), None);
    }

    #[test]
    fn a_known_absent_service_linked_role_is_read_again_after_a_call_that_may_create_it() {
        let mut l = Links::default();
        l.learn_absent_service_linked("AWSServiceRoleForElasticLoadBalancing");
        let other = l.observe("autoscaling", "CreateAutoScalingGroup", &json!({"AutoScalingGroupName": "g"}), "");
        assert!(l.service_linked_absent("AWSServiceRoleForElasticLoadBalancing"));
        assert_eq!(other.refresh, vec![Refresh::Group("g".into())]);
        let create = l.observe("elasticloadbalancing", "CreateLoadBalancer", &json!({}), "");
        assert!(create.ends);
        assert_eq!(create.refresh, vec![Refresh::ServiceLinkedRole("AWSServiceRoleForElasticLoadBalancing".into())]);
        assert!(!l.service_linked_absent("AWSServiceRoleForElasticLoadBalancing"));
    }
}
