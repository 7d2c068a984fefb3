//! What a live run against a real account costs, estimated before it starts, so that
//! `run --target aws` can print it and `--max-cost USD` can refuse a run above a budget.
//! Pure: the profile's calls and the price table (`catalog/prices.toml`) in, an itemised
//! estimate out.
//!
//! Every billable resource a call of the profile creates is one item, counted for one
//! hour (the run deletes what it creates within minutes). Fixtures are made by the
//! administrator and always billed. Calls from scenarios expected to be denied are
//! counted too, marked: they cost money only if the policy wrongly allows them, so the
//! total is an upper bound. A resource whose price is unknown makes every `--max-cost`
//! refuse the run (fail closed).

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use crate::loc::Loc;
use crate::scenario::{Expect, Profile};

/// How long each resource is counted for.
pub const HOURS: f64 = 1.0;

/// Per-month prices are prorated over the shortest month (28 days): the highest hourly
/// share any month gives, so an upper bound.
pub const SHORTEST_MONTH_HOURS: f64 = 672.0;

/// The instance type RunInstances launches when the request names none.
/// Source: the EC2 API reference's RunInstances `InstanceType` ("Default: m1.small"), as
/// carried in the botocore models ec2/2015-10-01 and ec2/2016-09-15; the current model
/// (2016-11-15) no longer states a default.
pub const DEFAULT_INSTANCE_TYPE: &str = "m1.small";

/// What a price is per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Per {
    /// Per hour of use.
    #[serde(rename = "hour")]
    Hour,
    /// Per month (by the hour, over the shortest month: an upper bound).
    #[serde(rename = "month")]
    Month,
    /// Per GB of storage and month (EBS volumes).
    #[serde(rename = "GB-month")]
    GbMonth,
    /// Per provisioned IOPS and month.
    #[serde(rename = "IOPS-month")]
    IopsMonth,
    /// Per provisioned MiB/s of throughput and month.
    #[serde(rename = "MiBps-month")]
    MibpsMonth,
}

/// How a price was checked (the header of `catalog/prices.toml` defines each level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checked {
    /// The price list's or pricing page's own wording for this price.
    Verified,
    /// The same number in several independent copies of the price list.
    CrossChecked,
    /// Found in no source that could be searched; shown as such so no reader trusts it.
    Unverified,
}

impl Checked {
    /// The level as `catalog/prices.toml` and the estimate spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Checked::Verified => "verified",
            Checked::CrossChecked => "cross-checked",
            Checked::Unverified => "unverified",
        }
    }
}

/// The region the estimate's prices are for; every price in the table must be for it.
pub const REGION: &str = "us-east-1";

/// One list price, a `[[price]]` of `catalog/prices.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Price {
    /// How the estimate looks the price up (`ec2:t3.medium`, `vpc:nat-gateway`…).
    pub key: String,
    /// What one unit is, for readers.
    pub what: String,
    /// The list price in US dollars, per `per`.
    pub usd: f64,
    /// What the price is per.
    pub per: Per,
    /// The region the price is for; the table holds [`REGION`] prices only.
    pub region: String,
    /// The pricing page.
    pub source: String,
    /// Shown in parentheses after the source, before the check level.
    pub note: Option<String>,
    /// How the price was checked.
    pub checked: Checked,
    /// Checked for another region only: that region and how.
    pub checked_elsewhere: Option<(String, Checked)>,
    /// `source (note; checked)`, as the estimate shows it.
    citation: String,
}

impl Price {
    /// The price of one unit for one hour.
    pub fn hourly(&self) -> f64 {
        match self.per {
            Per::Hour => self.usd,
            Per::Month | Per::GbMonth | Per::IopsMonth | Per::MibpsMonth => self.usd / SHORTEST_MONTH_HOURS,
        }
    }

    /// Where the price comes from and how it was checked, as the estimate shows it:
    /// "https://aws.amazon.com/ebs/pricing/ (verified)".
    pub fn citation(&self) -> &str {
        &self.citation
    }
}

const EMBEDDED: &str = include_str!("../../../../catalog/prices.toml");

/// The price table compiled into this binary.
pub fn prices() -> &'static [Price] {
    static PRICES: OnceLock<Vec<Price>> = OnceLock::new();
    PRICES.get_or_init(|| {
        // The file is checked in and covered by tests; failing here is a build defect.
        parse_prices(EMBEDDED, "catalog/prices.toml").unwrap_or_else(|e| panic!("embedded price table: {e}"))
    })
}

/// The price under `key` (`ec2:<instance type>`, `vpc:nat-gateway`, `ebs:<volume type>`…).
pub fn price(key: &str) -> Option<&'static Price> {
    prices().iter().find(|p| p.key == key)
}

/// A price table that is not what `catalog/prices.toml`'s header says.
#[derive(Debug, thiserror::Error)]
#[error("{loc}: {message}")]
pub struct PriceError {
    /// The row of `catalog/prices.toml` that is wrong.
    pub loc: Loc,
    /// What is wrong with it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    price: Vec<PriceRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceRow {
    key: Spanned<String>,
    what: String,
    usd: Spanned<f64>,
    per: Per,
    region: Spanned<String>,
    source: String,
    note: Option<String>,
    checked: Checked,
    checked_elsewhere: Option<Elsewhere>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Elsewhere {
    region: String,
    checked: Checked,
}

/// Parses a price table (`file` names it in errors): strictly, every error at its line.
pub fn parse_prices(text: &str, file: &str) -> Result<Vec<Price>, PriceError> {
    let file: Arc<str> = Arc::from(file);
    let error = |span: Option<Range<usize>>, message: String| {
        let start = span.map_or(0, |s| s.start.min(text.len()));
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        PriceError { loc: Loc::new(&file, line, column), message }
    };
    let raw: PriceFile = toml::from_str(text).map_err(|e| error(e.span(), e.message().trim().to_string()))?;
    let mut prices: Vec<Price> = Vec::new();
    for row in raw.price {
        if prices.iter().any(|p| p.key == *row.key.get_ref()) {
            return Err(error(Some(row.key.span()), format!("price `{}` is listed twice", row.key.get_ref())));
        }
        let usd = *row.usd.get_ref();
        if !usd.is_finite() || usd <= 0.0 {
            return Err(error(Some(row.usd.span()), format!("`usd` must be a positive amount, not {usd}")));
        }
        if row.region.get_ref() != REGION {
            return Err(error(
                Some(row.region.span()),
                format!(
                    "the estimate is in {REGION} prices; `region` must be \"{REGION}\", not \"{}\"",
                    row.region.get_ref()
                ),
            ));
        }
        let region = row.region.into_inner();
        let level = match &row.checked_elsewhere {
            Some(other) => {
                format!("{} for {} only, {} for {region}", other.checked.as_str(), other.region, row.checked.as_str())
            }
            None => row.checked.as_str().to_string(),
        };
        let citation = match &row.note {
            Some(note) => format!("{} ({note}; {level})", row.source),
            None => format!("{} ({level})", row.source),
        };
        prices.push(Price {
            key: row.key.into_inner(),
            what: row.what,
            usd,
            per: row.per,
            region,
            source: row.source,
            note: row.note,
            checked: row.checked,
            checked_elsewhere: row.checked_elsewhere.map(|e| (e.region, e.checked)),
            citation,
        });
    }
    Ok(prices)
}

/// Whether the run makes its calls for real or, where EC2 accepts it, with `DryRun`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Calls are made for real and create what they bill.
    Live,
    /// Calls EC2 accepts with `DryRun` are sent so and create nothing.
    DryRun,
}

/// One billable resource (or a group of identical ones) a call creates.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Item {
    /// The scenario or fixture id.
    pub source_id: String,
    /// What is billed: "NAT gateway", "t3.medium instance"…
    pub what: String,
    /// How many identical resources.
    pub count: u32,
    /// The price of one of them for one hour; `None` when unknown.
    pub usd_per_hour: Option<f64>,
    /// How long they are assumed to run.
    pub hours: f64,
    /// The item's cost; `None` when the price is unknown.
    pub usd: Option<f64>,
    /// The price's citation, so a reader can check it.
    pub price_source: String,
    /// From a scenario expected to be denied: billed only if the policy wrongly allows it.
    pub only_if_policy_wrong: bool,
}

/// What a run costs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// Each billable resource the run creates.
    pub items: Vec<Item>,
    /// The sum of the known items, including the `only_if_policy_wrong` ones: an upper bound.
    pub total_usd: f64,
    /// The items whose price is unknown.
    pub unknown: Vec<String>,
    /// Assumptions the estimate rests on, for readers.
    pub notes: Vec<String>,
}

impl Estimate {
    /// Whether a run must be refused under `--max-cost max`: total above max, or any
    /// unknown price (fail closed). A `max` that is not a number refuses too.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn refuses(&self, max_usd: f64) -> bool {
        !self.unknown.is_empty() || !(self.total_usd <= max_usd)
    }

    /// The part of the total that is billed whatever the policy says.
    pub fn always_usd(&self) -> f64 {
        self.items.iter().filter(|i| !i.only_if_policy_wrong).filter_map(|i| i.usd).sum()
    }

    /// Plain-text table for the terminal: each item, its price, its source, the total, the notes.
    pub fn render(&self) -> String {
        let header = ["source", "what", "count", "$/hour", "hours", "USD", "billed", "price"];
        // Each price source once, below the table; rows refer to it by number.
        let mut sources: Vec<&str> = Vec::new();
        for i in &self.items {
            if !sources.contains(&i.price_source.as_str()) {
                sources.push(&i.price_source);
            }
        }
        let rows: Vec<[String; 8]> = self
            .items
            .iter()
            .map(|i| {
                [
                    i.source_id.clone(),
                    i.what.clone(),
                    i.count.to_string(),
                    i.usd_per_hour.map_or_else(|| "unknown".to_string(), |p| format!("{p:.6}")),
                    format!("{}", i.hours),
                    i.usd.map_or_else(|| "unknown".to_string(), |u| format!("{u:.4}")),
                    if i.only_if_policy_wrong { "if policy wrong" } else { "always" }.to_string(),
                    format!("[{}]", sources.iter().position(|x| *x == i.price_source).unwrap_or(0) + 1),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (n, cell) in cells.iter().enumerate() {
                if n + 1 == cells.len() {
                    out.push_str(cell);
                } else {
                    let pad = widths[n] - cell.chars().count();
                    // Numbers right-aligned, text left-aligned.
                    if (2..=5).contains(&n) {
                        out.push_str(&" ".repeat(pad));
                        out.push_str(cell);
                    } else {
                        out.push_str(cell);
                        out.push_str(&" ".repeat(pad));
                    }
                    out.push_str("  ");
                }
            }
            out.trim_end().to_string() + "\n"
        };

        let mut out = String::from("Estimated cost of the run in AWS (us-east-1 on-demand list prices, USD)\n\n");
        if rows.is_empty() {
            out.push_str("No call of the profile creates a billable resource.\n");
        } else {
            out.push_str(&line(&header.map(String::from)));
            for row in &rows {
                out.push_str(&line(row));
            }
        }
        if !sources.is_empty() {
            out.push_str("\nprices:\n");
            for (n, source) in sources.iter().enumerate() {
                out.push_str(&format!("  [{}] {source}\n", n + 1));
            }
        }
        let always = self.always_usd();
        out.push_str(&format!(
            "\ntotal (upper bound): ${:.4} (${:.4} billed always, ${:.4} only if the policy wrongly allows a call it must deny)\n",
            self.total_usd,
            always,
            (self.total_usd - always).max(0.0)
        ));
        if !self.unknown.is_empty() {
            out.push_str("\nunknown prices (any --max-cost refuses the run):\n");
            for u in &self.unknown {
                out.push_str(&format!("  - {u}\n"));
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\nnotes:\n");
            for n in &self.notes {
                out.push_str(&format!("  - {n}\n"));
            }
        }
        out
    }
}

/// Why `--max-cost` was refused: its value and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--max-cost `{text}`: {reason} (expected US dollars, such as 5, 5.50 or $5)")]
pub struct MaxCostError {
    /// The value as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: MaxCostReason,
}

/// What is wrong with a `--max-cost` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MaxCostReason {
    /// Empty, or only `$`.
    #[error("no amount")]
    NoAmount,
    /// Below zero.
    #[error("a cost limit cannot be negative")]
    Negative,
    /// Not digits with an optional fraction.
    #[error("not an amount")]
    NotAnAmount,
    /// Too large for a finite number.
    #[error("too large")]
    TooLarge,
}

/// Parses `--max-cost`: "5", "5.5", "$5", "0"; rejects negative, NaN, infinite, empty and
/// other text with a message naming the flag and the value.
pub fn parse_max_cost(text: &str) -> Result<f64, MaxCostError> {
    let bad = |reason| Err(MaxCostError { text: text.to_string(), reason });
    let trimmed = text.trim();
    let body = trimmed.strip_prefix('$').unwrap_or(trimmed);
    if body.is_empty() {
        return bad(MaxCostReason::NoAmount);
    }
    if body.starts_with('-') {
        return bad(MaxCostReason::Negative);
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let is_number = match body.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(body),
    };
    if !is_number {
        return bad(MaxCostReason::NotAnAmount);
    }
    match body.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => bad(MaxCostReason::TooLarge),
    }
}

/// An hourly price and the source it is cited from.
type Rate = (f64, String);

/// Why an item's price is unknown; the estimate says it in place of the price's source,
/// and any `--max-cost` then refuses the run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum Unpriced {
    /// The price table has no such key.
    #[error("no price `{0}` in the table")]
    NoPrice(String),
    /// The price table has no such EBS volume type.
    #[error("no price for EBS volume type `{0}` in the table")]
    NoVolumePrice(String),
    /// A volume made from a snapshot, of a size the profile does not say.
    #[error("the size comes from a snapshot, not known from the profile")]
    SizeFromSnapshot,
    /// An io1/io2 volume without its provisioned IOPS.
    #[error("an {0} volume's provisioned IOPS are not given")]
    NoIops(String),
    /// A snapshot of a volume the profile does not make.
    #[error("the size of volume {0} is not known from the profile")]
    SnapshotSize(String),
    /// The price table has no EBS snapshot price.
    #[error("no price for EBS snapshots in the table")]
    NoSnapshotPrice,
    /// No call says which instance type is launched.
    #[error("no call of the profile says which instance type it launches")]
    NoLaunch,
    /// The launch template or configuration names no instance type.
    #[error("the launch template or configuration names no instance type")]
    NoInstanceType,
    /// The price table has no such instance type.
    #[error("no price for instance type `{0}` in the table")]
    NoInstancePrice(String),
}

/// One call of the profile, as the run would send it.
struct Call<'a> {
    id: &'a str,
    service: &'a str,
    operation: &'a str,
    input: &'a Value,
    /// The example ids this call's response stands for (`lt-…`, `vol-…`).
    produces: Vec<&'a str>,
    deny: bool,
    /// Whether it creates anything: a fixture, or a scenario not sent with `DryRun`.
    live: bool,
}

/// What one call costs: its items, or why what it would launch cannot be launched.
#[derive(Default)]
struct Outcome {
    items: Vec<Item>,
    blocked: Option<String>,
}

/// Estimates what a run of `profile` costs. In `Mode::DryRun`, a scenario call for which
/// `dry_run_accepts(service, operation)` holds is sent with `DryRun` and creates nothing.
pub fn estimate(profile: &Profile, mode: Mode, dry_run_accepts: &dyn Fn(&str, &str) -> bool) -> Estimate {
    let fixtures = profile.fixtures.iter().map(|f| Call {
        id: &f.id,
        service: &f.service,
        operation: &f.operation,
        input: &f.input,
        produces: f.produces.keys().map(String::as_str).collect(),
        deny: false,
        live: true,
    });
    // A synthetic scenario is a probe of the static model: a live run never sends it.
    let scenarios = profile.scenarios.iter().filter(|s| s.synthetic.is_none()).map(|s| Call {
        id: &s.id,
        service: &s.service,
        operation: &s.operation,
        input: &s.input,
        produces: s.produces.keys().map(String::as_str).collect(),
        deny: s.expect == Expect::Deny,
        live: mode == Mode::Live || !dry_run_accepts(&s.service, &s.operation),
    });
    let calls: Vec<Call> = fixtures.chain(scenarios).collect();
    let world = World::new(&calls);

    let mut items = Vec::new();
    let mut dry_run_skipped = Vec::new();
    let mut blocked = Vec::new();
    for call in &calls {
        let outcome = world.outcome(call);
        if outcome.items.is_empty() && outcome.blocked.is_none() {
            continue;
        }
        if !call.live {
            dry_run_skipped.push(call.id);
        } else if let Some(why) = outcome.blocked {
            blocked.push(format!("{}: {why}; not counted.", call.id));
        } else {
            items.extend(outcome.items);
        }
    }

    let total_usd = items.iter().filter_map(|i| i.usd).sum();
    let unknown = items
        .iter()
        .filter(|i| i.usd.is_none())
        .map(|i| format!("{}: {}: {}", i.source_id, i.what, i.price_source))
        .collect();
    let mut notes = vec![
        "Prices are us-east-1 on-demand list prices (Linux); other regions can differ, and the Free Tier is not applied."
            .to_string(),
        "Not included: data transfer, NAT gateway and load balancer data processing, per-request charges (Secrets Manager API calls, EBS I/O), root volumes sized by the AMI (about $0.001 per 8 GiB volume-hour), T3 unlimited CPU credits.".to_string(),
        format!(
            "Each resource is counted for {HOURS} hour: the run deletes what it creates within minutes. NAT gateways and Classic Load Balancers bill each partial hour as a full hour; EC2 Linux instances bill per second with a 60-second minimum, so 1 hour is an upper bound for them; per-month prices (Secrets Manager, EBS) are prorated over a 28-day month ({SHORTEST_MONTH_HOURS} hours)."
        ),
    ];
    if items.iter().any(|i| i.only_if_policy_wrong) {
        notes.push("Items billed \"if policy wrong\" come from scenarios that must be denied: they cost money only if the policy wrongly allows them. The total includes them, so it is an upper bound.".to_string());
    }
    if items.iter().any(|i| i.what.contains("spot")) {
        notes.push("Spot instances are priced at the on-demand price (the default maximum spot price).".to_string());
    }
    if !dry_run_skipped.is_empty() {
        notes.push(format!(
            "DryRun: {} call(s) that would create billable resources are sent with DryRun and create nothing; not counted: {}.",
            dry_run_skipped.len(),
            dry_run_skipped.join(", ")
        ));
        notes.push("DryRun: calls of services with no DryRun (load balancers, secrets, Auto Scaling) are counted even where the EC2 resources they name were only dry-run created (an upper bound).".to_string());
    }
    notes.extend(blocked);
    Estimate { items, total_usd, unknown, notes }
}

/// A launch template or launch configuration reference.
#[derive(Clone, Copy, Debug)]
struct TemplateRef<'a> {
    id: Option<&'a str>,
    name: Option<&'a str>,
}

impl TemplateRef<'_> {
    fn label(&self) -> String {
        match (self.id, self.name) {
            (Some(id), _) => format!("launch template {id}"),
            (None, Some(name)) => format!("launch template {name}"),
            (None, None) => "launch template".to_string(),
        }
    }
}

fn template_ref(spec: &Value) -> Option<TemplateRef<'_>> {
    let r = TemplateRef { id: str_at(spec, "LaunchTemplateId"), name: str_at(spec, "LaunchTemplateName") };
    (r.id.is_some() || r.name.is_some()).then_some(r)
}

/// The instance types an Auto Scaling group (or a RunInstances from a template) may
/// launch, and whether what they come from exists in this mode.
struct Launch {
    /// Candidates; `None` where a template or configuration names no type.
    types: Vec<Option<String>>,
    label: String,
    /// False when every call creating the template is sent with `DryRun`.
    live: bool,
    /// Launch template data, for network interfaces.
    data: Vec<Value>,
}

/// The profile's calls, and lookups across them.
struct World<'c, 'a> {
    calls: &'c [Call<'a>],
    /// Subnets that a call sets to map public IPv4 addresses on launch.
    public_subnets: BTreeSet<&'a str>,
}

impl<'c, 'a> World<'c, 'a> {
    fn new(calls: &'c [Call<'a>]) -> Self {
        let public_subnets = calls
            .iter()
            .filter(|c| c.service == "ec2" && c.operation == "ModifySubnetAttribute")
            .filter(|c| c.input.pointer("/MapPublicIpOnLaunch/Value").and_then(Value::as_bool) == Some(true))
            .filter_map(|c| str_at(c.input, "SubnetId"))
            .collect();
        World { calls, public_subnets }
    }

    fn ops(&self, service: &'a str, operation: &'a str) -> impl Iterator<Item = &'c Call<'a>> + use<'c, 'a> {
        self.calls.iter().filter(move |c| c.service == service && c.operation == operation)
    }

    fn outcome(&self, call: &Call<'a>) -> Outcome {
        let item = |what: String, count: u32, rate: Result<Rate, Unpriced>| new_item(call, what, count, rate);
        match (call.service, call.operation) {
            ("ec2", "RunInstances") => self.run_instances(call),
            ("ec2", "CreateNatGateway") => {
                Outcome { items: vec![item("NAT gateway".into(), 1, keyed("vpc:nat-gateway"))], blocked: None }
            }
            ("ec2", "AllocateAddress") => Outcome {
                items: vec![item("Elastic IP address (public IPv4)".into(), 1, keyed("vpc:public-ipv4"))],
                blocked: None,
            },
            ("ec2", "CreateVolume") => {
                let (what, rate) = volume(call.input, "Size");
                Outcome { items: vec![item(what, 1, rate)], blocked: None }
            }
            ("ec2", "CreateSnapshot") => Outcome { items: vec![self.snapshot(call)], blocked: None },
            ("ec2", "CreateVpcEndpoint") => {
                match str_at(call.input, "VpcEndpointType").unwrap_or("Gateway") {
                    // Gateway endpoints (S3, DynamoDB) have no charge.
                    "Gateway" => Outcome::default(),
                    "Interface" => {
                        let azs = call.input.get("SubnetIds").and_then(Value::as_array).map_or(1, Vec::len).max(1);
                        let what = "interface VPC endpoint (per Availability Zone)".to_string();
                        Outcome { items: vec![item(what, count(azs), keyed("vpc:interface-endpoint"))], blocked: None }
                    }
                    other => Outcome {
                        items: vec![item(format!("{other} VPC endpoint"), 1, keyed(&format!("vpc:{other}-endpoint")))],
                        blocked: None,
                    },
                }
            }
            ("elasticloadbalancing", "CreateLoadBalancer") => Outcome { items: load_balancer(call), blocked: None },
            ("secretsmanager", "CreateSecret") => {
                // A replica is a distinct secret, billed as one.
                let replicas = call.input.get("AddReplicaRegions").and_then(Value::as_array).map_or(0, Vec::len);
                let what = if replicas == 0 { "Secrets Manager secret" } else { "Secrets Manager secret and replicas" };
                Outcome {
                    items: vec![item(what.to_string(), count(1 + replicas), keyed("secretsmanager:secret"))],
                    blocked: None,
                }
            }
            ("autoscaling", "CreateAutoScalingGroup") => {
                let group = str_at(call.input, "AutoScalingGroupName").unwrap_or("?");
                let launch = self.group_launch(call.input, false);
                self.group_instances(
                    call,
                    &format!("Auto Scaling group {group}"),
                    &launch,
                    desired(call.input),
                    call.input,
                )
            }
            ("autoscaling", "UpdateAutoScalingGroup" | "SetDesiredCapacity") => {
                // Only a raise of the desired capacity (or of the minimum above it) launches.
                let group = str_at(call.input, "AutoScalingGroupName").unwrap_or("?");
                let wanted = u32_at(call.input, "DesiredCapacity").or_else(|| u32_at(call.input, "MinSize"));
                let Some(wanted) = wanted else { return Outcome::default() };
                let creators: Vec<_> = self.groups(group).collect();
                let before = creators.iter().map(|c| desired(c.input)).max().unwrap_or(0);
                let more = wanted.saturating_sub(before);
                if more == 0 {
                    return Outcome::default();
                }
                let launch = self.later_launch(call.input, &creators);
                let spec = creators.first().map_or(call.input, |c| c.input);
                self.group_instances(call, &format!("Auto Scaling group {group}"), &launch, more, spec)
            }
            ("autoscaling", "StartInstanceRefresh") => {
                // A refresh launches replacements from the group's (newest) template.
                let group = str_at(call.input, "AutoScalingGroupName").unwrap_or("?");
                let creators: Vec<_> = self.groups(group).collect();
                let size = creators.iter().map(|c| desired(c.input)).max().unwrap_or(1);
                let launch = match call.input.get("DesiredConfiguration") {
                    Some(configuration) => self.group_launch(configuration, true),
                    None => self.later_launch(call.input, &creators),
                };
                let spec = creators.first().map_or(call.input, |c| c.input);
                self.group_instances(call, &format!("replacement, Auto Scaling group {group}"), &launch, size, spec)
            }
            ("autoscaling", "TerminateInstanceInAutoScalingGroup") => {
                if call.input.get("ShouldDecrementDesiredCapacity").and_then(Value::as_bool) != Some(false) {
                    return Outcome::default();
                }
                // The group launches a replacement; which group is not in the request, so
                // the dearest instance any group of the profile can launch.
                let creators: Vec<_> = self.ops("autoscaling", "CreateAutoScalingGroup").collect();
                let launch = self.later_launch(call.input, &creators);
                let spec = creators.first().map_or(call.input, |c| c.input);
                self.group_instances(call, "replacement, the instance's Auto Scaling group", &launch, 1, spec)
            }
            _ => Outcome::default(),
        }
    }

    fn groups(&self, name: &str) -> impl Iterator<Item = &'c Call<'a>> {
        let name = name.to_string();
        self.ops("autoscaling", "CreateAutoScalingGroup")
            .filter(move |c| str_at(c.input, "AutoScalingGroupName") == Some(name.as_str()))
    }

    /// What a group launches after its creation: every version of its template.
    fn later_launch(&self, input: &Value, creators: &[&Call<'a>]) -> Launch {
        let mut launch = Launch { types: Vec::new(), label: String::new(), live: false, data: Vec::new() };
        let mut labels = Vec::new();
        for creator in creators {
            let l = self.group_launch(creator.input, true);
            launch.types.extend(l.types);
            launch.live |= l.live;
            launch.data.extend(l.data);
            labels.push(l.label);
        }
        if creators.is_empty() {
            let group = str_at(input, "AutoScalingGroupName").unwrap_or("the group");
            launch.label = format!("{group}, created by no call of the profile");
            launch.live = true;
        } else {
            labels.dedup();
            launch.label = labels.join(", ");
        }
        launch
    }

    /// What an Auto Scaling group's creation (or a refresh's desired configuration)
    /// launches. `all_versions`: every version of the template, not just the first.
    fn group_launch(&self, input: &'a Value, all_versions: bool) -> Launch {
        if let Some(mixed) = input.get("MixedInstancesPolicy") {
            let spec = mixed.pointer("/LaunchTemplate/LaunchTemplateSpecification");
            let overrides: Vec<Option<String>> = mixed
                .pointer("/LaunchTemplate/Overrides")
                .and_then(Value::as_array)
                .map(|o| o.iter().filter_map(|o| str_at(o, "InstanceType")).map(|t| Some(t.to_string())).collect())
                .unwrap_or_default();
            let mut launch = match spec.and_then(template_ref) {
                Some(r) => self.template(r, all_versions),
                None => Launch { types: Vec::new(), label: "mixed instances".into(), live: true, data: Vec::new() },
            };
            if !overrides.is_empty() {
                launch.types = overrides;
            }
            return launch;
        }
        if let Some(r) = input.get("LaunchTemplate").and_then(template_ref) {
            return self.template(r, all_versions);
        }
        if let Some(name) = str_at(input, "LaunchConfigurationName") {
            let creators: Vec<_> = self
                .ops("autoscaling", "CreateLaunchConfiguration")
                .filter(|c| str_at(c.input, "LaunchConfigurationName") == Some(name))
                .collect();
            return Launch {
                types: creators.iter().map(|c| str_at(c.input, "InstanceType").map(String::from)).collect(),
                label: format!("launch configuration {name}"),
                live: creators.is_empty() || creators.iter().any(|c| c.live),
                data: Vec::new(),
            };
        }
        Launch { types: Vec::new(), label: "no launch template".into(), live: true, data: Vec::new() }
    }

    /// The instance types of a launch template, from the calls that create it (and, with
    /// `all_versions`, its later versions).
    fn template(&self, r: TemplateRef<'a>, all_versions: bool) -> Launch {
        let creators: Vec<_> = self
            .ops("ec2", "CreateLaunchTemplate")
            .filter(|c| {
                r.id.is_some_and(|id| c.produces.contains(&id))
                    || (r.name.is_some() && str_at(c.input, "LaunchTemplateName") == r.name)
            })
            .collect();
        let mut ids: BTreeSet<&str> = r.id.into_iter().collect();
        let mut names: BTreeSet<&str> = r.name.into_iter().collect();
        for c in &creators {
            ids.extend(c.produces.iter().copied());
            names.extend(str_at(c.input, "LaunchTemplateName"));
        }
        // Created by no call of the profile: nothing to wait for, and no type known.
        let live = creators.is_empty() || creators.iter().any(|c| c.live);
        let mut launch = Launch { types: Vec::new(), label: r.label(), live, data: Vec::new() };
        let mut add = |data: Option<&Value>, inherits: bool| {
            let instance_type = data.and_then(|d| str_at(d, "InstanceType"));
            // A version based on another one inherits its type when it names none.
            if instance_type.is_some() || !inherits {
                launch.types.push(instance_type.map(String::from));
            }
            launch.data.extend(data.cloned());
        };
        for c in &creators {
            add(c.input.get("LaunchTemplateData"), false);
        }
        if all_versions {
            let versions = self.ops("ec2", "CreateLaunchTemplateVersion").filter(|c| {
                str_at(c.input, "LaunchTemplateId").is_some_and(|id| ids.contains(id))
                    || str_at(c.input, "LaunchTemplateName").is_some_and(|n| names.contains(n))
            });
            for v in versions {
                add(v.input.get("LaunchTemplateData"), v.input.get("SourceVersion").is_some());
            }
        }
        launch
    }

    /// `n` instances of a group, and their public IPv4 addresses.
    fn group_instances(&self, call: &Call<'a>, group: &str, launch: &Launch, n: u32, spec: &Value) -> Outcome {
        if n == 0 {
            return Outcome::default();
        }
        if !launch.live {
            return Outcome {
                items: Vec::new(),
                blocked: Some(format!(
                    "its {} is only created with DryRun, so the group launches no instances",
                    launch.label
                )),
            };
        }
        let (what, detail, rate) = instance_rate(&launch.types);
        let details: Vec<&str> = [group, launch.label.as_str()].into_iter().chain(detail.as_deref()).collect();
        let mut items = vec![new_item(call, format!("{what} ({})", details.join("; ")), n, rate)];
        let subnets: Vec<&str> = str_at(spec, "VPCZoneIdentifier")
            .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let template_public = launch.data.iter().any(associates_public_ip);
        let default_vpc = subnets.is_empty();
        if template_public || default_vpc || subnets.iter().any(|s| self.public_subnets.contains(s)) {
            items.push(new_item(call, "public IPv4 address of an instance".into(), n, keyed("vpc:public-ipv4")));
        }
        Outcome { items, blocked: None }
    }

    fn run_instances(&self, call: &Call<'a>) -> Outcome {
        let input = call.input;
        let n = u32_at(input, "MaxCount").or_else(|| u32_at(input, "MinCount")).unwrap_or(1);
        let template = input.get("LaunchTemplate").and_then(template_ref);
        let (types, template_data) = match (str_at(input, "InstanceType"), template) {
            (Some(t), _) => (vec![Some(t.to_string())], Vec::new()),
            (None, Some(r)) => {
                let version = input.pointer("/LaunchTemplate/Version").and_then(Value::as_str);
                let later = !matches!(version, None | Some("$Default") | Some("1"));
                let launch = self.template(r, later);
                let types = launch.types.into_iter().map(|t| t.or_else(|| Some(DEFAULT_INSTANCE_TYPE.into())));
                (types.collect(), launch.data)
            }
            (None, None) => (vec![Some(DEFAULT_INSTANCE_TYPE.to_string())], Vec::new()),
        };
        let (what, detail, rate) = instance_rate(&types);
        let mut details: Vec<&str> = detail.as_deref().into_iter().collect();
        let spot = input.pointer("/InstanceMarketOptions/MarketType").and_then(Value::as_str) == Some("spot")
            || template_data
                .iter()
                .any(|d| d.pointer("/InstanceMarketOptions/MarketType").and_then(Value::as_str) == Some("spot"));
        if spot {
            details.push("spot, priced on-demand");
        }
        if str_at(input, "InstanceType").is_none() && template.is_none() {
            details.push("RunInstances' default type");
        }
        let what = if details.is_empty() { what } else { format!("{what} ({})", details.join("; ")) };
        let mut items = vec![new_item(call, what, n, rate)];

        let interfaces: Vec<&Value> = input
            .get("NetworkInterfaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(
                template_data.iter().filter_map(|d| d.get("NetworkInterfaces")).filter_map(Value::as_array).flatten(),
            )
            .collect();
        let subnets: Vec<&str> = str_at(input, "SubnetId")
            .into_iter()
            .chain(interfaces.iter().filter_map(|i| str_at(i, "SubnetId")))
            .collect();
        let asks_public =
            interfaces.iter().any(|i| i.get("AssociatePublicIpAddress").and_then(Value::as_bool) == Some(true));
        // With no subnet the instance goes to the default VPC, whose subnets map public IPs.
        if asks_public || subnets.is_empty() || subnets.iter().any(|s| self.public_subnets.contains(s)) {
            items.push(new_item(call, "public IPv4 address of an instance".into(), n, keyed("vpc:public-ipv4")));
        }
        for mapping in input.get("BlockDeviceMappings").and_then(Value::as_array).into_iter().flatten() {
            if let Some(ebs) = mapping.get("Ebs")
                && ebs.get("VolumeSize").is_some()
            {
                let (what, rate) = volume(ebs, "VolumeSize");
                items.push(new_item(call, format!("{what} attached to each instance"), n, rate));
            }
        }
        Outcome { items, blocked: None }
    }

    fn snapshot(&self, call: &Call<'a>) -> Item {
        let id = str_at(call.input, "VolumeId").unwrap_or("?");
        let size = self
            .ops("ec2", "CreateVolume")
            .filter(|c| c.produces.contains(&id))
            .find_map(|c| c.input.get("Size").and_then(Value::as_f64));
        let rate = match (size, price("ebs:snapshot")) {
            // A first snapshot stores at most the volume's size.
            (Some(gib), Some(p)) => Ok((gib * p.hourly(), p.citation().to_string())),
            (None, _) => Err(Unpriced::SnapshotSize(id.to_string())),
            (_, None) => Err(Unpriced::NoSnapshotPrice),
        };
        let what = match size {
            Some(gib) => format!("EBS snapshot of {id}, at most {gib} GiB"),
            None => format!("EBS snapshot of {id}"),
        };
        new_item(call, what, 1, rate)
    }
}

/// A classic load balancer, and the public IPv4 addresses of an internet-facing one.
fn load_balancer(call: &Call) -> Vec<Item> {
    let input = call.input;
    if input.get("LoadBalancerName").is_none() && input.get("Name").is_some() {
        // An ELBv2 request (2015-12-01): its load balancers are not in the price table.
        let kind = str_at(input, "Type").unwrap_or("application");
        return vec![new_item(call, format!("{kind} load balancer (ELBv2)"), 1, keyed(&format!("elb:{kind}")))];
    }
    let mut items = vec![new_item(call, "Classic Load Balancer".into(), 1, keyed("elb:classic"))];
    if str_at(input, "Scheme") != Some("internal") {
        let zones = ["Subnets", "AvailabilityZones"]
            .iter()
            .filter_map(|k| input.get(*k).and_then(Value::as_array).map(Vec::len))
            .max()
            .unwrap_or(1)
            .max(1);
        let mut item = new_item(
            call,
            "public IPv4 address of an internet-facing load balancer (one per subnet assumed)".into(),
            count(zones),
            keyed("vpc:public-ipv4"),
        );
        item.price_source.push_str("; the count of addresses per subnet is unverified");
        items.push(item);
    }
    items
}

/// What an EBS volume (`CreateVolume`, or a block device mapping's `Ebs`) costs per hour.
fn volume(spec: &Value, size_key: &str) -> (String, Result<Rate, Unpriced>) {
    // CreateVolume's documented default; a mapping's default comes from the AMI.
    let kind = str_at(spec, "VolumeType").unwrap_or("gp2");
    let size = spec.get(size_key).and_then(Value::as_f64);
    let iops = spec.get("Iops").and_then(Value::as_f64);
    let throughput = spec.get("Throughput").and_then(Value::as_f64);
    let mut what = match size {
        Some(gib) => format!("EBS {kind} volume, {gib} GiB"),
        None => format!("EBS {kind} volume"),
    };
    let Some(gib) = size else {
        return (what, Err(Unpriced::SizeFromSnapshot));
    };
    let Some(storage) = price(&format!("ebs:{kind}")) else {
        return (what, Err(Unpriced::NoVolumePrice(kind.to_string())));
    };
    let mut rate = gib * storage.hourly();
    let mut sources = vec![storage.citation()];
    let mut extra = |key: &str, units: f64| -> Result<(), Unpriced> {
        if units <= 0.0 {
            return Ok(());
        }
        let p = price(key).ok_or_else(|| Unpriced::NoPrice(key.to_string()))?;
        rate += units * p.hourly();
        if !sources.contains(&p.citation()) {
            sources.push(p.citation());
        }
        Ok(())
    };
    let extras = match kind {
        // gp3 includes 3,000 IOPS and 125 MiB/s.
        "gp3" => extra("ebs:gp3-iops", iops.unwrap_or(0.0) - 3000.0)
            .and_then(|()| extra("ebs:gp3-throughput", throughput.unwrap_or(0.0) - 125.0)),
        "io1" | "io2" => match iops {
            Some(i) => extra(&format!("ebs:{kind}-iops"), i),
            None => Err(Unpriced::NoIops(kind.to_string())),
        },
        _ => Ok(()),
    };
    if let Some(i) = iops {
        what.push_str(&format!(", {i} IOPS"));
    }
    (what, extras.map(|()| (rate, sources.join("; "))))
}

/// The dearest of the candidate instance types: what it is called ("t3.large instance"),
/// which candidates it was chosen from when there were several, and its hourly price.
fn instance_rate(types: &[Option<String>]) -> (String, Option<String>, Result<Rate, Unpriced>) {
    if types.is_empty() {
        return ("instance".into(), None, Err(Unpriced::NoLaunch));
    }
    let mut best: Option<(&str, &Price)> = None;
    for t in types {
        let Some(t) = t else {
            return ("instance".into(), None, Err(Unpriced::NoInstanceType));
        };
        let Some(p) = price(&format!("ec2:{t}")) else {
            return (format!("{t} instance"), None, Err(Unpriced::NoInstancePrice(t.clone())));
        };
        if best.is_none_or(|(_, b)| p.usd > b.usd) {
            best = Some((t.as_str(), p));
        }
    }
    let (t, p) = best.expect("types is not empty");
    let distinct: Vec<&str> = types.iter().flatten().map(String::as_str).collect::<BTreeSet<_>>().into_iter().collect();
    let detail = (distinct.len() > 1).then(|| format!("dearest of {}", distinct.join(", ")));
    (format!("{t} instance"), detail, Ok((p.hourly(), p.citation().to_string())))
}

fn keyed(key: &str) -> Result<Rate, Unpriced> {
    price(key).map(|p| (p.hourly(), p.citation().to_string())).ok_or_else(|| Unpriced::NoPrice(key.to_string()))
}

fn new_item(call: &Call, what: String, count: u32, rate: Result<Rate, Unpriced>) -> Item {
    let (usd_per_hour, price_source) = match rate {
        Ok((rate, source)) => (Some(rate), source),
        Err(why) => (None, why.to_string()),
    };
    Item {
        source_id: call.id.to_string(),
        what,
        count,
        usd_per_hour,
        hours: HOURS,
        usd: usd_per_hour.map(|r| r * f64::from(count) * HOURS),
        price_source,
        only_if_policy_wrong: call.deny,
    }
}

/// A group's desired capacity at creation: `DesiredCapacity`, else its minimum size.
fn desired(input: &Value) -> u32 {
    u32_at(input, "DesiredCapacity").or_else(|| u32_at(input, "MinSize")).unwrap_or(0)
}

fn associates_public_ip(data: &Value) -> bool {
    data.get("NetworkInterfaces")
        .and_then(Value::as_array)
        .is_some_and(|n| n.iter().any(|i| i.get("AssociatePublicIpAddress").and_then(Value::as_bool) == Some(true)))
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn u32_at(v: &Value, key: &str) -> Option<u32> {
    v.get(key).and_then(Value::as_u64).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{ProfileSource, load};
    use crate::template::render::Target;

    fn seed() -> Profile {
        load(&ProfileSource::Embedded, None, &Target::default(), &|p| std::fs::read_to_string(p))
            .expect("the embedded seed loads")
            .profile
    }

    /// EC2 accepts DryRun on every action of the policy but these two.
    fn ec2_dry_run(service: &str, operation: &str) -> bool {
        service == "ec2" && !matches!(operation, "ModifySubnetAttribute" | "ModifyVpcAttribute")
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn items_of<'e>(est: &'e Estimate, source_id: &str) -> Vec<&'e Item> {
        est.items.iter().filter(|i| i.source_id == source_id).collect()
    }

    fn set(profile: &mut Profile, id: &str, pointer: &str, value: Value) {
        let scenario = profile.scenarios.iter_mut().find(|s| s.id == id).expect("scenario exists");
        *scenario.input.pointer_mut(pointer).expect("input has the member") = value;
    }

    #[test]
    fn the_embedded_table_parses_and_has_every_price_the_model_looks_up() {
        let table = parse_prices(EMBEDDED, "catalog/prices.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table, prices());
        for p in &table {
            assert!(p.source.starts_with("https://aws.amazon.com/"), "{}", p.key);
            assert!(!p.what.is_empty(), "{}", p.key);
        }
        // The keys the model asks for by name (instance types come from the profile).
        let default_type = format!("ec2:{DEFAULT_INSTANCE_TYPE}");
        let mut wanted = vec![
            default_type.as_str(),
            "vpc:nat-gateway",
            "vpc:public-ipv4",
            "vpc:interface-endpoint",
            "elb:classic",
            "secretsmanager:secret",
            "ebs:snapshot",
            "ebs:gp3-iops",
            "ebs:gp3-throughput",
            "ebs:io1-iops",
            "ebs:io2-iops",
        ];
        // Every EBS volume type CreateVolume takes (gp2 is its default).
        wanted.extend(["ebs:gp2", "ebs:gp3", "ebs:io1", "ebs:io2", "ebs:st1", "ebs:sc1", "ebs:standard"]);
        for key in wanted {
            assert!(price(key).is_some(), "no price `{key}` in catalog/prices.toml");
        }
        assert_eq!(price(&default_type).map(|p| p.usd), Some(0.044));
        // Every instance type the seed launches is priced.
        assert!(estimate(&seed(), Mode::Live, &ec2_dry_run).unknown.is_empty());
    }

    #[test]
    fn citations_read_source_note_and_level() {
        let cases = [
            ("ec2:t3.large", "https://aws.amazon.com/ec2/pricing/on-demand/ (Linux; cross-checked)"),
            (
                "ec2:m1.small",
                "https://aws.amazon.com/ec2/previous-generation/ (Linux; cross-checked for us-west-2 only, unverified for us-east-1)",
            ),
            ("vpc:nat-gateway", "https://aws.amazon.com/vpc/pricing/ (NAT gateway-hour; verified)"),
            ("vpc:public-ipv4", "https://aws.amazon.com/vpc/pricing/ (Public IPv4 Address tab; verified)"),
            (
                "vpc:interface-endpoint",
                "https://aws.amazon.com/privatelink/pricing/ (per endpoint per Availability Zone; verified)",
            ),
            (
                "elb:classic",
                "https://aws.amazon.com/elasticloadbalancing/pricing/ (Classic Load Balancer-hour; verified)",
            ),
            (
                "secretsmanager:secret",
                "https://aws.amazon.com/secrets-manager/pricing/ (per secret-month, prorated; verified)",
            ),
            ("ebs:gp3", "https://aws.amazon.com/ebs/pricing/ (verified)"),
            ("ebs:gp3-iops", "https://aws.amazon.com/ebs/pricing/ (cross-checked)"),
            ("ebs:snapshot", "https://aws.amazon.com/ebs/pricing/ (unverified)"),
        ];
        for (key, want) in cases {
            assert_eq!(price(key).map(Price::citation), Some(want), "{key}");
        }
        let m1 = price("ec2:m1.small").expect("priced");
        assert_eq!(m1.checked, Checked::Unverified);
        assert_eq!(m1.checked_elsewhere, Some(("us-west-2".to_string(), Checked::CrossChecked)));
    }

    #[test]
    fn a_table_with_an_unknown_field_or_a_bad_value_is_refused_at_its_line() {
        // `checked` is on line 10; `extra` starts line 11.
        let row = |extra: &str, checked: &str| {
            format!(
                r#"# a comment

[[price]]
key = "ebs:gp3"
what = "GB-month"
usd = 0.08
per = "GB-month"
region = "us-east-1"
source = "https://aws.amazon.com/ebs/pricing/"
checked = "{checked}"
{extra}"#
            )
        };
        assert!(parse_prices(&row("", "verified"), "t.toml").is_ok());
        let cases: &[(String, u32, &str)] = &[
            // Line 11: a field the table does not define.
            (row("colour = \"red\"\n", "verified"), 11, "unknown field `colour`"),
            // Line 10: a level that is not one of the three.
            (row("", "verified-ish"), 10, "verified-ish"),
            (row("", "Verified"), 10, "Verified"),
            // Line 11: an unknown member of checked_elsewhere, and a bad level in it.
            (
                row(
                    "checked_elsewhere = { region = \"us-west-2\", checked = \"verified\", by = \"me\" }\n",
                    "verified",
                ),
                11,
                "unknown field `by`",
            ),
            (row("checked_elsewhere = { region = \"us-west-2\", checked = \"sure\" }\n", "verified"), 11, "sure"),
            // The second row, from line 11 on, repeats the key (line 12).
            (row(&row("", "unverified").replace("# a comment\n\n", ""), "verified"), 12, "listed twice"),
        ];
        for (text, line, words) in cases {
            let e = parse_prices(text, "t.toml").expect_err(text);
            assert_eq!(e.loc.line, *line, "{e}\n{text}");
            assert!(e.message.contains(words), "{e}");
            assert!(e.to_string().starts_with(&format!("t.toml:{line}:")), "{e}");
        }
        for (from, to, line, words) in [
            ("usd = 0.08", "usd = -0.08", 6, "positive"),
            ("usd = 0.08", "usd = nan", 6, "positive"),
            ("per = \"GB-month\"", "per = \"fortnight\"", 7, "fortnight"),
            ("region = \"us-east-1\"", "region = \"eu-west-1\"", 8, "us-east-1"),
            ("checked = \"verified\"\n", "", 3, "missing field `checked`"),
        ] {
            let text = row("", "verified").replace(from, to);
            let e = parse_prices(&text, "t.toml").expect_err(&text);
            assert_eq!(e.loc.line, line, "{e}\n{text}");
            assert!(e.message.contains(words), "{e}");
        }
    }

    #[test]
    fn seed_live_run_bills_nat_gateway_load_balancers_instances_and_fixtures() {
        let est = estimate(&seed(), Mode::Live, &ec2_dry_run);
        assert!(est.unknown.is_empty(), "{:?}", est.unknown);
        assert!(est.total_usd > 0.0);
        let sum: f64 = est.items.iter().filter_map(|i| i.usd).sum();
        assert!(close(est.total_usd, sum));

        let nat = items_of(&est, "ec2.create-nat-gateway");
        assert_eq!(nat.len(), 1);
        assert_eq!(nat[0].what, "NAT gateway");
        assert!(close(nat[0].usd.unwrap(), 0.045));
        assert!(!nat[0].only_if_policy_wrong);

        // Created twice (once as the first in the account): each partial hour is an hour.
        for id in ["elb.create-load-balancer", "elb.create-load-balancer-first-in-account"] {
            let lb = items_of(&est, id);
            assert_eq!(lb[0].what, "Classic Load Balancer");
            assert!(close(lb[0].usd.unwrap(), 0.025));
            assert!(
                lb[1].what.starts_with("public IPv4 address of an internet-facing load balancer"),
                "{}",
                lb[1].what
            );
        }

        let eip = items_of(&est, "ec2.allocate-address");
        assert!(close(eip[0].usd.unwrap(), 0.005));

        let cp = items_of(&est, "ec2.run-instances-control-plane");
        assert_eq!(cp.len(), 1, "a private subnet: no public address");
        assert_eq!(cp[0].what, "t3.large instance");
        assert!(close(cp[0].usd.unwrap(), 0.0832));

        // The bastion's subnet maps public IPs on launch (ec2.modify-subnet-attribute).
        let bastion = items_of(&est, "ec2.run-instances-bastion");
        assert_eq!(bastion.len(), 2);
        assert_eq!(bastion[0].what, "t3.micro instance");
        assert_eq!(bastion[1].what, "public IPv4 address of an instance");

        let spot = items_of(&est, "ec2.run-instances-spot-node");
        assert!(spot[0].what.contains("spot"), "{}", spot[0].what);
        assert!(close(spot[0].usd.unwrap(), 0.0832));

        // A denied RunInstances costs money only if the policy wrongly allows it.
        let denied = items_of(&est, "deny.passrole.bootstrapper-role");
        assert_eq!(denied.len(), 1);
        assert!(denied[0].only_if_policy_wrong);

        // The group launches the launch template's instance type.
        let asg = items_of(&est, "autoscaling.create-auto-scaling-group");
        assert_eq!(asg.len(), 1);
        assert_eq!(
            asg[0].what,
            "t3.large instance (Auto Scaling group dkp-demo-md-0; launch template lt-0a1b2c3d4e5f60015)"
        );
        assert_eq!(asg[0].count, 1);
        // The refresh launches from the newest version (t3.xlarge).
        let refresh = items_of(&est, "autoscaling.start-instance-refresh");
        assert_eq!(
            refresh[0].what,
            "t3.xlarge instance (replacement, Auto Scaling group dkp-demo-md-0; launch template lt-0a1b2c3d4e5f60015; dearest of t3.large, t3.xlarge)"
        );
        // Raising the group from 1 to 10, if wrongly allowed, launches 9 more.
        let scale = items_of(&est, "near-miss.autoscaling.set-desired-capacity");
        assert_eq!(scale[0].count, 9);
        assert!(scale[0].only_if_policy_wrong);
        // Raising MinSize to the size it already has launches nothing.
        assert!(items_of(&est, "autoscaling.update-auto-scaling-group").is_empty());

        let secret = items_of(&est, "secretsmanager.create-secret");
        assert!(close(secret[0].usd.unwrap(), 0.40 / 672.0));
        assert_eq!(items_of(&est, "deny.secrets.create-other-namespace").len(), 1);

        // The fixture volume is made by the administrator: always billed.
        let volume = items_of(&est, "fixture.volume");
        assert_eq!(volume[0].what, "EBS gp3 volume, 8 GiB");
        assert_eq!(volume[0].price_source, "https://aws.amazon.com/ebs/pricing/ (verified)");
        assert!(close(volume[0].usd.unwrap(), 8.0 * 0.08 / 672.0));
        assert!(!volume[0].only_if_policy_wrong);
        let snapshot = items_of(&est, "near-miss.ec2.create-snapshot");
        assert!(close(snapshot[0].usd.unwrap(), 8.0 * 0.05 / 672.0));

        // A gateway endpoint is free; nothing else in the seed costs money.
        assert!(items_of(&est, "near-miss.ec2.create-vpc-endpoint").is_empty());
        assert!(items_of(&est, "ec2.create-vpc").is_empty());

        assert!(est.always_usd() < est.total_usd);
        assert!(est.notes.iter().any(|n| n.contains("us-east-1") && n.contains("other regions")));
        assert!(est.notes.iter().any(|n| n.contains("data transfer") && n.contains("per-request")));
        assert!(est.notes.iter().any(|n| n.contains("60-second minimum")));
        assert!(!est.notes.iter().any(|n| n.starts_with("DryRun")));
    }

    #[test]
    fn seed_dry_run_excludes_ec2_creates_and_the_group_that_cannot_launch() {
        let profile = seed();
        let live = estimate(&profile, Mode::Live, &ec2_dry_run);
        let dry = estimate(&profile, Mode::DryRun, &ec2_dry_run);
        assert!(dry.unknown.is_empty(), "{:?}", dry.unknown);
        assert!(dry.total_usd > 0.0);
        assert!(dry.total_usd < live.total_usd, "{} < {}", dry.total_usd, live.total_usd);

        for id in [
            "ec2.create-nat-gateway",
            "ec2.allocate-address",
            "ec2.run-instances-control-plane",
            "deny.passrole.bootstrapper-role",
            "near-miss.ec2.create-snapshot",
            "autoscaling.create-auto-scaling-group",
            "autoscaling.start-instance-refresh",
            "near-miss.autoscaling.set-desired-capacity",
        ] {
            assert!(items_of(&dry, id).is_empty(), "{id} is not counted in DryRun");
        }
        // No DryRun for these: still created.
        assert_eq!(items_of(&dry, "elb.create-load-balancer")[0].what, "Classic Load Balancer");
        assert_eq!(items_of(&dry, "secretsmanager.create-secret").len(), 1);
        // Fixtures are always live.
        assert_eq!(items_of(&dry, "fixture.volume").len(), 1);
        // Every remaining item comes from a call with no DryRun, or from a fixture.
        for i in &dry.items {
            let scenario = profile.scenarios.iter().find(|s| s.id == i.source_id);
            assert!(scenario.is_none_or(|s| !ec2_dry_run(&s.service, &s.operation)), "{}", i.source_id);
        }

        let skipped = dry.notes.iter().find(|n| n.starts_with("DryRun:")).expect("a DryRun note");
        assert!(
            skipped.contains("ec2.create-nat-gateway") && skipped.contains("ec2.run-instances-bastion"),
            "{skipped}"
        );
        assert!(
            dry.notes.iter().any(|n| n.starts_with("autoscaling.create-auto-scaling-group:")
                && n.contains("launch template lt-0a1b2c3d4e5f60015 is only created with DryRun")),
            "{:?}",
            dry.notes
        );
    }

    #[test]
    fn an_unknown_instance_type_fails_closed() {
        let mut profile = seed();
        set(&mut profile, "ec2.run-instances-bastion", "/InstanceType", Value::from("x9.unknown"));
        let est = estimate(&profile, Mode::Live, &ec2_dry_run);
        let bastion = items_of(&est, "ec2.run-instances-bastion");
        assert_eq!(bastion[0].what, "x9.unknown instance");
        assert_eq!(bastion[0].usd, None);
        assert_eq!(est.unknown.len(), 1, "{:?}", est.unknown);
        assert!(est.unknown[0].contains("x9.unknown"));
        assert!(est.refuses(1000.0));
        assert!(est.render().contains("unknown prices"));
    }

    #[test]
    fn the_group_follows_its_launch_template_and_fails_closed_without_one() {
        let mut profile = seed();
        set(&mut profile, "ec2.create-launch-template", "/LaunchTemplateData/InstanceType", Value::from("m5.large"));
        let est = estimate(&profile, Mode::Live, &ec2_dry_run);
        let asg = items_of(&est, "autoscaling.create-auto-scaling-group");
        assert!(asg[0].what.starts_with("m5.large instance"), "{}", asg[0].what);
        assert!(close(asg[0].usd.unwrap(), 0.096));

        // A template no call of the profile creates: the type is unknown.
        set(
            &mut profile,
            "autoscaling.create-auto-scaling-group",
            "/LaunchTemplate/LaunchTemplateId",
            Value::from("lt-0000000000000000f"),
        );
        let est = estimate(&profile, Mode::Live, &ec2_dry_run);
        let asg = items_of(&est, "autoscaling.create-auto-scaling-group");
        assert_eq!(asg[0].usd, None);
        assert!(est.refuses(f64::MAX));
    }

    #[test]
    fn volumes_price_storage_and_provisioned_performance() {
        let mut profile = seed();
        let fixture = profile.fixtures.iter_mut().find(|f| f.id == "fixture.volume").expect("fixture exists");
        let input = fixture.input.as_object_mut().expect("an object");
        input.insert("Iops".into(), Value::from(4000));
        input.insert("Throughput".into(), Value::from(250));
        let est = estimate(&profile, Mode::Live, &ec2_dry_run);
        let volume = items_of(&est, "fixture.volume");
        assert_eq!(volume[0].what, "EBS gp3 volume, 8 GiB, 4000 IOPS");
        assert!(close(volume[0].usd.unwrap(), (8.0 * 0.08 + 1000.0 * 0.005 + 125.0 * 0.04) / 672.0));

        // io1 bills provisioned IOPS; without them the price is unknown.
        let fixture = profile.fixtures.iter_mut().find(|f| f.id == "fixture.volume").expect("fixture exists");
        let input = fixture.input.as_object_mut().expect("an object");
        input.insert("VolumeType".into(), Value::from("io1"));
        input.remove("Iops");
        let est = estimate(&profile, Mode::Live, &ec2_dry_run);
        assert_eq!(items_of(&est, "fixture.volume")[0].usd, None);
        assert!(est.refuses(1000.0));
    }

    #[test]
    fn run_instances_without_type_or_subnet_gets_the_default_type_and_a_public_address() {
        let mut profile = seed();
        let bastion = profile.scenarios.iter_mut().find(|s| s.id == "ec2.run-instances-bastion").expect("exists");
        let input = bastion.input.as_object_mut().expect("an object");
        input.remove("InstanceType");
        input.remove("SubnetId");
        input.insert("MaxCount".into(), Value::from(3));
        let est = estimate(&profile, Mode::Live, &ec2_dry_run);
        let items = items_of(&est, "ec2.run-instances-bastion");
        assert_eq!(items[0].what, "m1.small instance (RunInstances' default type)");
        assert_eq!(items[0].count, 3);
        assert!(close(items[0].usd.unwrap(), 3.0 * 0.044));
        assert_eq!(items[1].what, "public IPv4 address of an instance");
        assert_eq!(items[1].count, 3);
    }

    #[test]
    fn refuses_above_the_total_only() {
        let est = estimate(&seed(), Mode::Live, &ec2_dry_run);
        let total = est.total_usd;
        assert!(!est.refuses(total), "at the total");
        assert!(!est.refuses(total + 0.01), "above the total");
        assert!(est.refuses(total - 0.01), "below the total");
        assert!(est.refuses(0.0));
        assert!(est.refuses(f64::NAN));
    }

    #[test]
    fn parse_max_cost_accepts_amounts_and_rejects_the_rest() {
        let cases: &[(&str, Option<f64>)] = &[
            ("5", Some(5.0)),
            ("5.5", Some(5.5)),
            ("$5", Some(5.0)),
            ("$5.50", Some(5.5)),
            ("0", Some(0.0)),
            (" 12 ", Some(12.0)),
            ("", None),
            ("$", None),
            ("-1", None),
            ("$-1", None),
            ("NaN", None),
            ("nan", None),
            ("inf", None),
            ("infinity", None),
            ("1e3", None),
            ("5$", None),
            ("five", None),
            ("5.", None),
            (".5", None),
            ("1.2.3", None),
            ("+5", None),
            (&"9".repeat(400), None),
        ];
        for (text, want) in cases {
            let got = parse_max_cost(text);
            match want {
                Some(v) => assert_eq!(got, Ok(*v), "{text:?}"),
                None => {
                    let message = got.expect_err(text).to_string();
                    assert!(message.starts_with("--max-cost"), "{message}");
                    assert!(message.contains(&format!("`{text}`")), "{message}");
                }
            }
        }
        assert_eq!(parse_max_cost("-2").unwrap_err().reason, MaxCostReason::Negative);
        assert!(parse_max_cost("-2").unwrap_err().to_string().contains("negative"));
    }

    #[test]
    fn render_lists_items_sources_total_and_notes() {
        let est = estimate(&seed(), Mode::Live, &ec2_dry_run);
        let text = est.render();
        assert!(text.contains("NAT gateway"));
        assert!(text.contains("https://aws.amazon.com/vpc/pricing/"));
        assert!(text.contains("if policy wrong"));
        assert!(text.contains(&format!("total (upper bound): ${:.4}", est.total_usd)));
        assert!(text.contains("notes:"));
        assert!(!text.contains("unknown prices"));
        assert_eq!(text.lines().filter(|l| l.starts_with("ec2.create-nat-gateway ")).count(), 1);
    }
}
