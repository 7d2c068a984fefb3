//! Loading a profile and its template (from files the caller reads, or from the copy
//! embedded in the binary), rendering it for the target, and extracting the role's
//! policies. The reading itself is the caller's: this module does no I/O.

use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::policy::PolicyError;
use crate::scenario::{Profile, ScenarioError, parse_profile, parse_scenarios, validate_profile};
use crate::template::model::{IamModel, RolePolicies, extract};
use crate::template::render::{RefMode, Target, render};
use crate::template::{Template, TemplateError};

/// Where the profile comes from.
#[derive(Clone, Debug)]
pub enum ProfileSource {
    /// A directory on disk.
    Dir(PathBuf),
    /// The seed profile compiled into the binary (used when no `--profile` is given).
    Embedded,
}

/// Why a profile or template could not be loaded. All of these are bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{loc}: role `{role}` is not an AWS::IAM::Role of `{template}` (its roles: {known})")]
    UnknownRole { loc: crate::loc::Loc, role: String, template: String, known: String },
    #[error("{loc}: failed to read `{path}`, named here: {source}")]
    Named { loc: crate::loc::Loc, path: String, source: std::io::Error },
}

/// Everything `check` works on.
#[derive(Debug)]
pub struct Loaded {
    pub profile: Profile,
    /// How the profile was found, for reports (`scenarios/dkp-bootstrapper` or a path).
    pub profile_label: String,
    pub template_label: String,
    pub template: Template,
    pub model: IamModel,
    pub role: RolePolicies,
}

/// The seed profile, compiled in so that `check` with no flags works anywhere.
const EMBEDDED_DIR: &str = "scenarios/dkp-bootstrapper";
const EMBEDDED: &[(&str, &str)] = &[
    ("profile.toml", include_str!("../../../scenarios/dkp-bootstrapper/profile.toml")),
    ("template.yaml", include_str!("../../../scenarios/dkp-bootstrapper/template.yaml")),
    ("ec2-network.toml", include_str!("../../../scenarios/dkp-bootstrapper/ec2-network.toml")),
    ("ec2-instances.toml", include_str!("../../../scenarios/dkp-bootstrapper/ec2-instances.toml")),
    ("ec2-launch-templates.toml", include_str!("../../../scenarios/dkp-bootstrapper/ec2-launch-templates.toml")),
    ("elb.toml", include_str!("../../../scenarios/dkp-bootstrapper/elb.toml")),
    ("autoscaling.toml", include_str!("../../../scenarios/dkp-bootstrapper/autoscaling.toml")),
    ("iam.toml", include_str!("../../../scenarios/dkp-bootstrapper/iam.toml")),
    ("secretsmanager.toml", include_str!("../../../scenarios/dkp-bootstrapper/secretsmanager.toml")),
    ("tagging.toml", include_str!("../../../scenarios/dkp-bootstrapper/tagging.toml")),
    ("near-miss.toml", include_str!("../../../scenarios/dkp-bootstrapper/near-miss.toml")),
];

/// How the caller reads a file the profile names (the shell bounds its size).
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

fn read(source: &ProfileSource, name: &str, read_file: ReadFile) -> Result<(String, String), LoadError> {
    match source {
        ProfileSource::Dir(dir) => {
            let path = dir.join(name);
            let text = read_file(&path)
                .map_err(|e| LoadError::Io { path: path.display().to_string(), source: e })?;
            Ok((text, path.display().to_string()))
        }
        ProfileSource::Embedded => EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (text.to_string(), format!("{EMBEDDED_DIR}/{name}")))
            .ok_or_else(|| LoadError::Io {
                path: format!("{EMBEDDED_DIR}/{name}"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not part of the embedded profile"),
            }),
    }
}

impl Loaded {
    /// The static proof of this profile for `target`.
    pub fn prove(&self, target: &Target) -> crate::analysis::Proof {
        crate::analysis::prove(&crate::analysis::Subject {
            policies: &self.role.policies,
            external: &self.role.external,
            profile: &self.profile,
            target,
            catalog: Catalog::embedded(),
        })
    }
}

/// Every call a live run would send must be writable by the wire models: a misspelt
/// member or operation is bad input now, not a skipped call later.
fn check_inputs(profile: &Profile, target: &Target) -> Result<(), ScenarioError> {
    let calls = profile
        .scenarios
        .iter()
        .filter(|s| s.synthetic.is_none())
        .map(|s| (&s.id, &s.service, &s.operation, &s.input, &s.loc))
        .chain(profile.fixtures.iter().map(|f| (&f.id, &f.service, &f.operation, &f.input, &f.loc)));
    for (id, service, operation, input, loc) in calls {
        let fail = |message: String| ScenarioError { loc: loc.clone(), message };
        let model = crate::wire::models()
            .service(service)
            .ok_or_else(|| fail(format!("`{id}`: the harness has no wire model for service `{service}`")))?;
        if !model.has_operation(operation) {
            return Err(fail(format!(
                "`{id}`: the harness cannot send `{service}:{operation}` (no wire model); if no live run can make this call, mark it `synthetic` with the reason"
            )));
        }
        let concrete: serde_json::Value =
            serde_json::from_str(&crate::scenario::substitute(&input.to_string(), target))
                .unwrap_or_else(|_| input.clone());
        crate::wire::serialize(model, operation, &concrete)
            .map_err(|e| fail(format!("`{id}`: input does not fit `{service}:{operation}`: {e}")))?;
    }
    Ok(())
}

/// A file the profile names could not be read: say where it is named.
fn named(e: LoadError, loc: &crate::loc::Loc) -> LoadError {
    match e {
        LoadError::Io { path, source } => LoadError::Named { loc: loc.clone(), path, source },
        other => other,
    }
}

/// Loads a profile, its scenarios and its template (or `template_override`), renders
/// the template for `target` and extracts the policies of the profile's role.
pub fn load(
    source: &ProfileSource,
    template_override: Option<&Path>,
    target: &Target,
    read_file: ReadFile,
) -> Result<Loaded, LoadError> {
    let (text, file) = read(source, "profile.toml", read_file)?;
    let mut profile = parse_profile(&text, &file)?;
    let catalog = Catalog::embedded();
    for (name, loc) in profile.scenario_files.clone().into_iter().zip(profile.scenario_file_locs.clone()) {
        let (text, file) = read(source, &name, read_file).map_err(|e| named(e, &loc))?;
        profile.scenarios.extend(parse_scenarios(&text, &file, catalog)?);
    }
    validate_profile(&profile)?;
    check_inputs(&profile, target)?;

    let (template_text, template_label) = match template_override {
        Some(path) => (
            read_file(path).map_err(|e| LoadError::Io { path: path.display().to_string(), source: e })?,
            path.display().to_string(),
        ),
        None => read(source, &profile.template, read_file).map_err(|e| named(e, &profile.template_loc))?,
    };
    let template = Template::parse(&template_text, &template_label)?;
    let rendered = render(&template, target, RefMode::ResolveAll)?;
    let model = extract(&rendered, &target.partition, &target.account_id, &target.stack_name)?;
    let role = model.policies_for_role(&profile.role).ok_or_else(|| LoadError::UnknownRole {
        loc: profile.role_loc.clone(),
        template: template_label.clone(),
        role: profile.role.clone(),
        known: model.roles.iter().map(|r| r.logical_id.as_str()).collect::<Vec<_>>().join(", "),
    })?;
    let profile_label = match source {
        ProfileSource::Dir(d) => d.display().to_string(),
        ProfileSource::Embedded => format!("{EMBEDDED_DIR} (embedded)"),
    };
    Ok(Loaded { profile, profile_label, template_label, template, model, role })
}
