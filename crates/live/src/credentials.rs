//! Where the harness's credentials come from on `--target aws`: a named profile alone, the
//! standard chain, or the instance metadata service; and the first call every AWS command
//! makes with them (who they belong to, admitted by the allow-list or not).

use iamc_core::aws::guard::{AllowList, caller_identity};

use crate::client::{Client, Credentials, error_chain};
use crate::run::{Endpoints, Session};

/// Credentials from a named profile alone (`--aws-profile`, `--user-profile`): no
/// fallback to the environment or instance metadata, so a misspelt name fails instead of
/// silently acting as someone else. A profile that assumes a role or uses SSO makes those
/// calls to obtain its credentials. Without a name: the standard chain (environment,
/// shared default profile, SSO, web identity, container and instance metadata).
pub async fn chain_credentials(profile: Option<&str>, region: &str) -> Result<Credentials, String> {
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
                .map_err(|e| format!("no credentials from profile `{name}`: {}", error_chain(&e)))?
        }
        None => {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region).load().await;
            let provider = config.credentials_provider().ok_or("no credentials provider is configured")?;
            provider
                .provide_credentials()
                .await
                .map_err(|e| format!("no credentials from the standard chain: {}", error_chain(&e)))?
        }
    };
    Ok(Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().map(str::to_string),
    })
}

/// The instance profile's credentials, from the instance metadata service only.
pub async fn instance_credentials() -> Result<Credentials, String> {
    use aws_credential_types::provider::ProvideCredentials;
    let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder().build();
    let c = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("no credentials from the instance metadata service: {}", error_chain(&e)))?;
    Ok(Credentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: c.session_token().map(str::to_string),
    })
}


/// Who the credentials belong to (account, ARN): the first call of every AWS command.
pub async fn who_am_i(session: &Session, creds: &Credentials) -> Result<(String, String), String> {
    let answer = session
        .call(creds, "sts", "GetCallerIdentity", &serde_json::json!({}), &[])
        .await
        .map_err(|e| format!("sts:GetCallerIdentity failed: {e}"))?;
    if let Some((code, message)) = &answer.error {
        return Err(format!("sts:GetCallerIdentity answered {} {code}: {message}", answer.status));
    }
    caller_identity(&answer.body).ok_or_else(|| "sts:GetCallerIdentity answered without Account and Arn".to_string())
}

/// Connects as the administrator and admits the account, or says why not. Shared by
/// `run --target aws` and `sweep`. Nothing but GetCallerIdentity is called before the
/// account is admitted.
pub async fn connect(
    allow: &AllowList,
    endpoint: Option<&str>,
    region: &str,
    aws_profile: Option<&str>,
) -> Result<(Session, String, String), String> {
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
    allow.admit(&account, &arn).map_err(|e| e.to_string())?;
    Ok((session, account, arn))
}
