//! Which accounts a run may touch. The allow-list comes from `--allow-account`
//! (repeatable) and `IAM_CONFORMANCE_ALLOWED_ACCOUNTS` (comma or space separated); with
//! none given nothing is called at all, and the caller's account (STS GetCallerIdentity,
//! the first call) must be on it before any other call is made.

use std::collections::BTreeSet;

/// The environment variable that adds accounts to the allow-list.
pub const ALLOWED_ACCOUNTS_ENV: &str = "IAM_CONFORMANCE_ALLOWED_ACCOUNTS";

/// Why a run may not go on: it fails closed before touching an account it was not given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No account is allowed, so nothing may be called.
    #[error(
        "no account is allowed: pass --allow-account ID (repeatable) or set {ALLOWED_ACCOUNTS_ENV}; nothing was called"
    )]
    NoAllowList,
    /// An allow-list entry is not an account id.
    #[error("{source_name}: `{value}` is not an AWS account id (12 digits)")]
    BadAccountId {
        /// Where the entry was given (the flag or the environment variable).
        source_name: String,
        /// The entry as given.
        value: String,
    },
    /// The credentials belong to an account not on the allow-list.
    #[error(
        "the credentials belong to account {account} ({arn}), which is not on the allow-list ({allowed}); nothing else was called"
    )]
    NotAllowed {
        /// The credentials' account.
        account: String,
        /// The caller's ARN, as STS GetCallerIdentity names it.
        arn: String,
        /// The allowed accounts, as the message lists them.
        allowed: String,
    },
}

/// The accounts a run may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowList {
    accounts: BTreeSet<String>,
}

impl AllowList {
    /// Builds the allow-list from the flags and the environment variable's value.
    pub fn new(flags: &[String], env: Option<&str>) -> Result<AllowList, GuardError> {
        let mut accounts = BTreeSet::new();
        for value in flags {
            accounts.insert(account_id("--allow-account", value)?);
        }
        for value in env.unwrap_or_default().split([',', ' ', '\n', '\t']).filter(|v| !v.trim().is_empty()) {
            accounts.insert(account_id(ALLOWED_ACCOUNTS_ENV, value)?);
        }
        if accounts.is_empty() {
            return Err(GuardError::NoAllowList);
        }
        Ok(AllowList { accounts })
    }

    /// Admits the caller GetCallerIdentity named, or says why not.
    pub fn admit(&self, account: &str, arn: &str) -> Result<(), GuardError> {
        if self.accounts.contains(account) {
            Ok(())
        } else {
            Err(GuardError::NotAllowed {
                account: account.to_string(),
                arn: arn.to_string(),
                allowed: self.accounts.iter().cloned().collect::<Vec<_>>().join(", "),
            })
        }
    }
}

fn account_id(source_name: &str, value: &str) -> Result<String, GuardError> {
    let v = value.trim();
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(GuardError::BadAccountId { source_name: source_name.to_string(), value: v.to_string() })
    }
}

/// The account and ARN in a successful GetCallerIdentity answer (query protocol XML),
/// read by the wire model; `None` when the model cannot read it or either is missing.
pub fn caller_identity(body: &str) -> Option<(String, String)> {
    let output = crate::wire::output("sts", "GetCallerIdentity", 200, body).ok()?;
    let text = |member: &str| output.get(member).and_then(serde_json::Value::as_str).map(str::to_string);
    Some((text("Account")?, text("Arn")?))
}

/// Why `--region` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    /// Not shaped as a region name (it would go into endpoint host names).
    #[error("--region `{0}` is not a region name such as us-west-2")]
    NotARegion(String),
    /// A region of another partition (China, GovCloud, the isolated regions).
    #[error("--region `{0}`: only the aws partition is supported")]
    OtherPartition(String),
}

/// A region name of the `aws` partition (it goes into endpoint host names).
pub fn check_region(region: &str) -> Result<(), RegionError> {
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !shaped {
        return Err(RegionError::NotARegion(region.to_string()));
    }
    if region.starts_with("cn-") || region.starts_with("us-gov-") || region.starts_with("us-iso") {
        return Err(RegionError::OtherPartition(region.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_and_no_variable_refuses() {
        assert_eq!(AllowList::new(&[], None), Err(GuardError::NoAllowList));
        assert_eq!(AllowList::new(&[], Some(" , ")), Err(GuardError::NoAllowList));
    }

    #[test]
    fn flags_and_variable_combine() {
        let list = AllowList::new(&["111122223333".into()], Some("444455556666, 777788889999")).unwrap();
        for a in ["111122223333", "444455556666", "777788889999"] {
            assert!(list.admit(a, "arn").is_ok(), "{a}");
        }
        let refused = list.admit("123456789012", "arn:aws:iam::123456789012:user/x").unwrap_err();
        assert!(refused.to_string().contains("123456789012"), "{refused}");
        assert!(refused.to_string().contains("111122223333, 444455556666, 777788889999"), "{refused}");
    }

    #[test]
    fn malformed_ids_name_where_they_came_from() {
        let e = AllowList::new(&["12345".into()], None).unwrap_err();
        assert_eq!(e, GuardError::BadAccountId { source_name: "--allow-account".into(), value: "12345".into() });
        let e = AllowList::new(&[], Some("111122223333,abc")).unwrap_err();
        assert!(e.to_string().starts_with(ALLOWED_ACCOUNTS_ENV), "{e}");
    }

    #[test]
    fn reads_get_caller_identity() {
        let body = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/ci</Arn><UserId>AIDA</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(
            caller_identity(body),
            Some(("111122223333".to_string(), "arn:aws:iam::111122223333:user/ci".to_string()))
        );
        assert_eq!(caller_identity("<Error/>"), None);
        let no_account = body.replace("<Account>111122223333</Account>", "");
        assert_eq!(caller_identity(&no_account), None, "the account is required");
        // moto's answer (the wire model's fixtures).
        let fixtures: serde_json::Value =
            serde_json::from_str(include_str!("../wire/fixtures/responses.json")).unwrap();
        let moto =
            fixtures["cases"].as_array().unwrap().iter().find(|c| c["operation"] == "GetCallerIdentity").unwrap();
        assert_eq!(
            caller_identity(moto["body"].as_str().unwrap()),
            Some(("123456789012".to_string(), "arn:aws:sts::123456789012:user/moto".to_string()))
        );
    }
}
