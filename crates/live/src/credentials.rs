//! Where the harness's credentials come from on `--target aws`: a named profile alone, the
//! standard chain, or the instance metadata service; and the first call every AWS command
//! makes with them (who they belong to, admitted by the allow-list or not).

use aws_credential_types::provider::error::CredentialsError as ProviderError;
use iamc_core::aws::guard::{AllowList, GuardError, caller_identity};

use crate::client::{Client, Credentials, ExecError, error_chain};
use crate::session::{Endpoints, Session};

/// Why no credentials were obtained ([`chain_credentials`], [`instance_credentials`]).
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The named profile gave none (missing, misspelt, or its role or SSO call failed).
    #[error("no credentials from profile `{profile}`: {}", error_chain(.source))]
    Profile {
        profile: String,
        #[source]
        source: ProviderError,
    },
    /// The standard chain has no provider at all.
    #[error("no credentials provider is configured")]
    NoProvider,
    /// The standard chain gave none.
    #[error("no credentials from the standard chain: {}", error_chain(.source))]
    Chain {
        #[source]
        source: ProviderError,
    },
    /// The instance metadata service gave none.
    #[error("no credentials from the instance metadata service: {}", error_chain(.source))]
    InstanceMetadata {
        #[source]
        source: ProviderError,
    },
}

/// Why STS did not say whose the credentials are ([`who_am_i`]).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// GetCallerIdentity got no answer.
    #[error("sts:GetCallerIdentity failed: {0}")]
    Call(#[source] ExecError),
    /// STS answered with an error (the credentials are invalid or expired, say).
    #[error("sts:GetCallerIdentity answered {status} {code}: {message}")]
    Answered { status: u16, code: String, message: String },
    /// The answer lacks the account or the ARN.
    #[error("sts:GetCallerIdentity answered without Account and Arn")]
    NoIdentity,
}

/// Why the administrator's session was not opened on an account ([`connect`]).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No credentials.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Whose they are could not be asked.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The credentials' account is not on the allow-list.
    #[error("{0}")]
    NotAdmitted(#[source] GuardError),
}

/// Credentials from a named profile alone (`--aws-profile`, `--user-profile`): no
/// fallback to the environment or instance metadata, so a misspelt name fails instead of
/// silently acting as someone else. A profile that assumes a role or uses SSO makes those
/// calls to obtain its credentials. Without a name: the standard chain (environment,
/// shared default profile, SSO, web identity, container and instance metadata).
pub async fn chain_credentials(profile: Option<&str>, region: &str) -> Result<Credentials, CredentialsError> {
    use aws_credential_types::provider::ProvideCredentials;
    let region = aws_config::Region::new(region.to_string());
    let c = match profile {
        Some(name) => {
            let conf = aws_config::provider_config::ProviderConfig::default().with_region(Some(region));
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .configure(&conf)
                .profile_name(name)
                .build()
                .provide_credentials()
                .await
                .map_err(|source| CredentialsError::Profile { profile: name.to_string(), source })?
        }
        None => {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region).load().await;
            let provider = config.credentials_provider().ok_or(CredentialsError::NoProvider)?;
            provider.provide_credentials().await.map_err(|source| CredentialsError::Chain { source })?
        }
    };
    Ok(Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().map(str::to_string),
    })
}

/// The instance profile's credentials, from the instance metadata service only.
pub async fn instance_credentials() -> Result<Credentials, CredentialsError> {
    use aws_credential_types::provider::ProvideCredentials;
    let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder().build();
    let c = provider.provide_credentials().await.map_err(|source| CredentialsError::InstanceMetadata { source })?;
    Ok(Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().map(str::to_string),
    })
}

/// Who the credentials belong to (account, ARN): the first call of every AWS command.
pub async fn who_am_i(session: &Session, creds: &Credentials) -> Result<(String, String), IdentityError> {
    let answer = session
        .call(creds, "sts", "GetCallerIdentity", &serde_json::json!({}), &[])
        .await
        .map_err(IdentityError::Call)?;
    if let Some((code, message)) = answer.error {
        return Err(IdentityError::Answered { status: answer.status, code, message });
    }
    caller_identity(&answer.body).ok_or(IdentityError::NoIdentity)
}

/// Connects as the administrator and admits the account, or says why not. Shared by
/// `run --target aws` and `sweep`. Nothing but GetCallerIdentity is called before the
/// account is admitted.
pub async fn connect(
    allow: &AllowList,
    endpoint: Option<&str>,
    region: &str,
    aws_profile: Option<&str>,
) -> Result<(Session, String, String), ConnectError> {
    let admin = chain_credentials(aws_profile, region).await?;
    let session = Session {
        client: Client::default(),
        endpoints: match endpoint {
            Some(url) => Endpoints::One(url.to_string()),
            None => Endpoints::Aws,
        },
        region: region.to_string(),
        admin,
    };
    let (account, arn) = who_am_i(&session, &session.admin).await?;
    allow.admit(&account, &arn).map_err(ConnectError::NotAdmitted)?;
    Ok((session, account, arn))
}
