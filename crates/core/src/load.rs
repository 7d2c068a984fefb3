//! Loading a profile and its template (from files the caller reads, or from the copy
//! embedded in the binary), rendering it for the target, and extracting the role's
//! policies. The reading itself is the caller's: this module does no I/O.

use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::context::{Model, Principal, STATIC_INSTANT, template_role_tags};
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
    /// A file given on the command line could not be read.
    #[error("failed to read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The template is not a CloudFormation template the tool can read.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A policy in the template is not a valid IAM policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The profile or a scenario file is malformed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The profile's role is not a role of the template.
    #[error("{loc}: role `{role}` is not an AWS::IAM::Role of `{template}` (its roles: {known})")]
    UnknownRole {
        /// Where the profile names the role.
        loc: crate::loc::Loc,
        /// The role's logical id, as the profile gives it.
        role: String,
        /// The template, as reports name it.
        template: String,
        /// The template's roles, so the user sees what was meant.
        known: String,
    },
    /// A file the profile names could not be read.
    #[error("{loc}: failed to read `{path}`, named here: {source}")]
    Named {
        /// Where the profile names it.
        loc: crate::loc::Loc,
        /// The file.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The file was read but its bytes were refused (too large, not UTF-8) at this place.
    #[error("{loc}: {message}")]
    Refused {
        /// Where in the file the bytes were refused.
        loc: crate::loc::Loc,
        /// Why.
        message: String,
    },
}

/// Largest profile, scenario or template file read, in bytes: a template's bound ([`crate::template::MAX_TEMPLATE_BYTES`], CloudFormation's 1 MB), which no profile or scenario file comes near.
pub const MAX_FILE_BYTES: usize = crate::template::MAX_TEMPLATE_BYTES;

/// Why a file's bytes were refused, and where (1-based line and column, in characters).
/// The shell's reader returns it inside an [`std::io::Error`] (see [`ReadFile`]) so that
/// the error names the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct Refusal {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
    /// Why the bytes were refused and what was expected.
    pub message: String,
}

/// Line and column (1-based, columns in characters) of byte offset `at` in `bytes`.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// Turns the bytes a reader read into text. The reader reads at most `limit + 1` bytes,
/// so more than `limit` means the file is larger: refused where the limit is crossed.
/// Invalid UTF-8 is refused at its first invalid byte.
pub fn decode_text(bytes: Vec<u8>, limit: usize) -> Result<String, Refusal> {
    if bytes.len() > limit {
        let (line, column) = position(&bytes, limit);
        return Err(Refusal {
            line,
            column,
            message: format!(
                "the file is larger than {limit} bytes, crossing the limit here; expected at most {limit} (CloudFormation takes a template of at most 1 MB, and profile and scenario files are held to the same bound)"
            ),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let error = e.utf8_error();
        let bytes = e.as_bytes();
        let at = error.valid_up_to();
        let (line, column) = position(bytes, at);
        let bad = &bytes[at..at + error.error_len().unwrap_or(bytes.len() - at)];
        let shown = bad.iter().map(|b| format!("0x{b:02X}")).collect::<Vec<_>>().join(" ");
        Refusal { line, column, message: format!("invalid UTF-8 (byte {shown}); the file must be UTF-8 text") }
    })
}

/// An error of the shell's reader for `path`: located when it carries a [`Refusal`].
fn read_error(path: &Path, e: std::io::Error) -> LoadError {
    let path = path.display().to_string();
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Refusal>()) {
        Some(r) => LoadError::Refused {
            loc: crate::loc::Loc::new(&std::sync::Arc::from(path.as_str()), r.line, r.column),
            message: r.message.clone(),
        },
        None => LoadError::Io { path, source: e },
    }
}

/// Everything `check` works on.
#[derive(Debug)]
pub struct Loaded {
    /// The profile, with every scenario file's scenarios.
    pub profile: Profile,
    /// How the profile was found, for reports (`scenarios/dkp-bootstrapper` or a path).
    pub profile_label: String,
    /// The template as reports name it (its path, or the embedded one's).
    pub template_label: String,
    /// The template as written, rendered again to deploy it.
    pub template: Template,
    /// The IAM resources of the rendered template.
    pub model: IamModel,
    /// The profile's role and the policies that reach it.
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

/// How the caller reads a file the profile names. The shell reads regular files only,
/// at most [`MAX_FILE_BYTES`] of them (through [`decode_text`]); bytes it refuses come
/// back as an error whose inner error is a [`Refusal`], which is reported at its place.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

fn read(source: &ProfileSource, name: &str, read_file: ReadFile) -> Result<(String, String), LoadError> {
    match source {
        ProfileSource::Dir(dir) => {
            let path = dir.join(name);
            let text = read_file(&path).map_err(|e| read_error(&path, e))?;
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
    /// The static proof of this profile for `target`, each check decided in the request
    /// context of the profile's role (`crate::context`).
    pub fn prove(&self, target: &Target) -> crate::analysis::Proof {
        self.prove_in_context(target)
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
        Some(path) => (read_file(path).map_err(|e| read_error(path, e))?, path.display().to_string()),
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

impl Loaded {
    /// The request context of this profile's runs, statically: a harness session of the
    /// profile's role (its ARN and its tags from the template), at [`STATIC_INSTANT`], with
    /// the profile's `[request_context]` settings.
    pub fn request_context(&self, target: &Target) -> Model {
        let tags = template_role_tags(&self.template, &self.role.role.logical_id);
        let mut model = Model::statically(target).with_principal(Principal::harness_session(
            &self.role.role.arn,
            tags,
            STATIC_INSTANT,
        ));
        if let Some(ip) = &self.profile.request_context.source_ip {
            model.source_ip = Some(ip.clone());
        }
        model
    }

    /// The static proof of this profile for `target`, in its request context.
    pub fn prove_in_context(&self, target: &Target) -> crate::analysis::Proof {
        crate::analysis::prove_in(
            &crate::analysis::Subject {
                policies: &self.role.policies,
                external: &self.role.external,
                profile: &self.profile,
                target,
                catalog: Catalog::embedded(),
            },
            &self.request_context(target),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_within_the_limit_decodes() {
        assert_eq!(decode_text(b"a: 1\n".to_vec(), 5).unwrap(), "a: 1\n");
    }

    #[test]
    fn more_than_the_limit_is_refused_where_it_is_crossed() {
        // Byte 8 (0-based) is the first past a limit of 8: the newline of line 2, after the
        // four characters (five bytes) "éxyz".
        let r = decode_text("ab\n\u{e9}xyz\n".as_bytes().to_vec(), 8).unwrap_err();
        assert_eq!((r.line, r.column), (2, 5), "{r}");
        assert!(r.message.starts_with("the file is larger than 8 bytes"), "{r}");
    }

    #[test]
    fn invalid_utf8_names_its_line_and_column() {
        let r = decode_text(b"a: 1\nb: \xe9t\xe9\n".to_vec(), 100).unwrap_err();
        assert_eq!((r.line, r.column), (2, 4), "{r}");
        assert_eq!(r.message, "invalid UTF-8 (byte 0xE9); the file must be UTF-8 text");
        // A sequence cut short at the end of the file.
        let r = decode_text(b"x\xe2\x82".to_vec(), 100).unwrap_err();
        assert_eq!((r.line, r.column), (1, 2), "{r}");
        assert!(r.message.contains("0xE2 0x82"), "{r}");
    }

    /// A reader that refuses one file the way the shell does, and reads the rest from disk.
    fn refusing(refused: &'static str) -> impl Fn(&Path) -> std::io::Result<String> {
        move |p: &Path| {
            if p.ends_with(refused) {
                let r = Refusal {
                    line: 3,
                    column: 7,
                    message: "invalid UTF-8 (byte 0xFF); the file must be UTF-8 text".into(),
                };
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, r));
            }
            std::fs::read_to_string(p)
        }
    }

    #[test]
    fn refusals_of_the_reader_are_located_in_the_refused_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mini");
        let source = ProfileSource::Dir(dir.clone());
        let target = Target::default();
        let template = Path::new("bad.yaml");
        let e = load(&source, Some(template), &target, &refusing("bad.yaml")).unwrap_err();
        assert_eq!(e.to_string(), "bad.yaml:3:7: invalid UTF-8 (byte 0xFF); the file must be UTF-8 text");
        for name in ["profile.toml", "scenarios.toml"] {
            let e = load(&source, None, &target, &refusing(name)).unwrap_err();
            let expected = format!("{}:3:7: invalid UTF-8", dir.join(name).display());
            assert!(e.to_string().starts_with(&expected), "{e}");
        }
        // Other errors of the reader stay as they were.
        let e = load(&source, Some(Path::new("missing.yaml")), &target, &|p| std::fs::read_to_string(p)).unwrap_err();
        assert!(e.to_string().starts_with("failed to read `missing.yaml`: "), "{e}");
    }
}
