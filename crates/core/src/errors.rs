//! Reading AWS's error answers: the code and message of a failed call, in each protocol's
//! shape (JSON `__type` or `x-amzn-errortype`; XML `Code`/`Message`), and what they mean
//! ([`classify`]): the one table of AWS error codes the project reads. Callers decide what
//! to do with a class (the sweep retries `NotYet` only on AWS, the run reads `Denied` as
//! the policy's answer); they keep no code lists of their own.

use serde_json::Value;

use crate::wire::Protocol;

/// Reads the error code and message of a failed call, per protocol.
pub fn service_error(
    protocol: Protocol,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> Option<(String, String)> {
    if (200..300).contains(&status) {
        return None;
    }
    match protocol {
        Protocol::Json => {
            let json: Option<Value> = serde_json::from_str(body).ok();
            let code = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
                .map(|(_, v)| v.clone())
                .or_else(|| json.as_ref().and_then(|j| j.get("__type")).and_then(Value::as_str).map(str::to_string))
                .map(|c| c.split(':').next().unwrap_or_default().rsplit('#').next().unwrap_or_default().to_string());
            let message = json
                .as_ref()
                .and_then(|j| j.get("Message").or_else(|| j.get("message")))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Some((code.unwrap_or_else(|| format!("HTTP{status}")), message))
        }
        Protocol::Ec2 | Protocol::Query => {
            let code = crate::xml::first(body, "Code").unwrap_or_else(|| format!("HTTP{status}"));
            let message = crate::xml::first(body, "Message").unwrap_or_else(|| body.chars().take(200).collect());
            Some((code, message))
        }
    }
}

/// What a failed call's answer means, read from its code (and, for a few codes, its
/// message) by [`classify`]. Each class names the fact it stands for; the codes and their
/// sources are in [`CODES`] and [`CODE_PATTERNS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The caller was authenticated and lacks a permission: the policy's answer.
    /// docs/aws-facts.md, "Denial shapes per protocol".
    Denied,
    /// The caller was not authenticated (a bad key, signature or token): the harness is
    /// at fault and the policy was never consulted, so this is never a denial.
    /// docs/aws-facts.md, "Authentication failures are not denials".
    AuthFailure,
    /// The request rate was exceeded: the same call succeeds later. EC2 Developer Guide,
    /// "Request throttling for the Amazon EC2 API" (retry with exponential backoff).
    Throttled,
    /// Not yet: something the call depends on is still going away (AWS deletes
    /// asynchronously: a subnet while its instances terminate, a group while it scales
    /// in), or a detach just made has not yet reached every reader. The same call may
    /// succeed later. EC2 API Reference, "Error codes for the Amazon EC2 API" (eventual
    /// consistency).
    NotYet,
    /// The call's subject is already gone (or, for a detach, already detached): a delete
    /// answered so has nothing left to do.
    Gone,
    /// An EC2 dry run that would have been allowed: authorized, nothing was done. EC2 API
    /// Reference, "Error codes for the Amazon EC2 API": `DryRunOperation`, "the user has the
    /// required permissions, so the request would have succeeded, but the DryRun parameter
    /// was used".
    DryRunAuthorized,
    /// The service failed (HTTP 5xx) without a code that says more: AWS's transient errors.
    /// Only [`classify_answer`] gives it, since only it sees the status. EC2 API Reference,
    /// "Error codes for the Amazon EC2 API" (server errors come with a 500-series status);
    /// botocore's standard retry mode retries 500, 502, 503 and 504 (`retries/standard.py`,
    /// `TransientRetryableChecker`).
    ServerError,
    /// Anything else: nothing this table knows (an invalid parameter, a quota, a conflict…).
    Other,
}

use ErrorClass::{AuthFailure, Denied, DryRunAuthorized, Gone, NotYet, Throttled};

/// Error codes and what they mean, matched exactly (case-sensitive, as AWS sends them).
/// This table replaced six lists that disagreed (the gate's denial codes, the run's
/// authentication failures and "busy" codes, the sweep's "already done", throttling and
/// dependency codes); it is their union, and a test keeps every code they held.
pub const CODES: &[(&str, ErrorClass)] = &[
    // Denials, per protocol (docs/aws-facts.md, "Denial shapes per protocol").
    // EC2: EC2 API Reference, "Troubleshooting API request errors" (unauthorized operation).
    ("UnauthorizedOperation", Denied),
    // EC2, a Spot service-linked role missing and not creatable by the caller (the message:
    // "The provided credentials do not have permission to create the service-linked role
    // for EC2 Spot Instances").
    ("AuthFailure.ServiceLinkedRoleCreationNotPermitted", Denied),
    // Query protocols: classic ELB, Auto Scaling, IAM, STS, CloudFormation.
    ("AccessDenied", Denied),
    // JSON 1.1: Secrets Manager, the Resource Groups Tagging API. The AWS API references'
    // "Common Errors" pages: "You do not have sufficient access to perform this action".
    ("AccessDeniedException", Denied),
    // Authentication failures (docs/aws-facts.md, "Authentication failures are not denials").
    // EC2 API Reference, "Error codes for the Amazon EC2 API" (common client errors): "The
    // provided credentials could not be validated". The same page says it may also mean a
    // resource the caller may not use; such answers are worded as denials (see `classify`).
    ("AuthFailure", AuthFailure),
    // "Common Errors" pages: "The X.509 certificate or AWS access key ID provided does not
    // exist in our records" (403); also an EC2 common client error.
    ("InvalidClientTokenId", AuthFailure),
    // IAM User Guide, "Troubleshoot Signature Version 4 signing for AWS API requests": the
    // signature does not match the one the service calculated (403).
    ("SignatureDoesNotMatch", AuthFailure),
    // "Common Errors" pages: "The request signature does not conform to AWS standards".
    ("IncompleteSignature", AuthFailure),
    // An expired session token, query protocols (docs/aws-facts.md, project research).
    ("ExpiredToken", AuthFailure),
    // The same for JSON protocols. "Common Errors" pages (e.g. IAM API Reference, "Common
    // Error Types"): "The security token included in the request has expired" (403).
    ("ExpiredTokenException", AuthFailure),
    // JSON protocols, an unknown key (docs/aws-facts.md); the CloudWatch Logs API Reference
    // documents it: "The most likely cause is an Amazon Web Services access key ID or secret
    // key that's not valid".
    ("UnrecognizedClientException", AuthFailure),
    // Throttling, as each service names it: all six are in botocore's list of throttling
    // codes (`retries/standard.py`, `ThrottledRetryableChecker`, "the union of all error
    // codes we've seen that represent a throttled error").
    // Query protocols (IAM, Auto Scaling, CloudFormation: "Rate exceeded").
    ("Throttling", Throttled),
    // "Common Errors" pages: "The request was denied due to request throttling" (400).
    ("ThrottlingException", Throttled),
    // EC2 Developer Guide, "Request throttling for the Amazon EC2 API".
    ("RequestLimitExceeded", Throttled),
    ("TooManyRequestsException", Throttled),
    ("RequestThrottled", Throttled),
    // The Resource Groups Tagging API's (its botocore model: "exceeded the allowed frequency
    // of submitted requests"), which `tag:GetResources` can meet.
    ("ThrottledException", Throttled),
    // Not yet: a dependant is still going away.
    // EC2 API Reference, DeleteSecurityGroup: a group still referenced "fails with
    // DependencyViolation"; the same for a subnet, gateway or VPC with dependants.
    ("DependencyViolation", NotYet),
    // EC2-Classic's code for the same (EC2 API Reference, DeleteSecurityGroup, as it read
    // before EC2-Classic was retired).
    ("InvalidGroup.InUse", NotYet),
    // EC2 error codes: the volume is still attached (its instance is terminating).
    ("VolumeInUse", NotYet),
    // EC2 API Reference, ReleaseAddress: an address still associated answers
    // `InvalidIPAddress.InUse`.
    ("InvalidIPAddress.InUse", NotYet),
    // EC2 error codes: the resource is in an incorrect state for the request (a volume
    // still detaching, a gateway still attaching).
    ("IncorrectState", NotYet),
    // Auto Scaling API Reference (DeleteAutoScalingGroup, DeleteLaunchConfiguration): "The
    // operation can't be performed because the resource is in use" and "because there are
    // scaling activities in progress" (both 400 in botocore's autoscaling model).
    ("ResourceInUse", NotYet),
    ("ScalingActivityInProgress", NotYet),
    // IAM API Reference (DeleteRole, DeleteInstanceProfile): "attempted to delete a resource
    // that has attached subordinate entities" (409); right after a detach, the detach has
    // not yet reached every reader.
    ("DeleteConflict", NotYet),
    // Gone (besides [`CODE_PATTERNS`]).
    // IAM API Reference: "referenced a resource entity that does not exist" (404).
    ("NoSuchEntity", Gone),
    // EC2 error codes: the internet gateway is not attached to the VPC (a detach already
    // done).
    ("Gateway.NotAttached", Gone),
    // EC2 dry runs.
    ("DryRunOperation", DryRunAuthorized),
];

/// Codes matched by a part of their name, after [`CODES`].
pub const CODE_PATTERNS: &[(&str, ErrorClass)] = &[
    // A missing subject, named `…NotFound` by every service here: EC2's
    // `InvalidVpcID.NotFound`, `InvalidGroup.NotFound`, `InvalidPermission.NotFound`,
    // `InvalidAssociationID.NotFound`, `NatGatewayNotFound`,
    // `InvalidLaunchTemplateName.NotFoundException` (EC2 API Reference, "Error codes for the
    // Amazon EC2 API"); classic ELB's `LoadBalancerNotFound`, CloudFormation's
    // `StackNotFoundException`, Secrets Manager's `ResourceNotFoundException` ("Secrets
    // Manager can't find the resource that you asked for"), in their botocore models.
    ("NotFound", Gone),
];

/// Words by which AWS says, under a code that does not, that the caller lacks a
/// permission (matched case-insensitively): EC2's "You are not authorized to perform this
/// operation" (EC2 API Reference, "Troubleshooting API request errors"), IAM's "User: … is
/// not authorized to perform: …" (IAM User Guide, "Troubleshoot access denied error
/// messages"), Auto Scaling's `ValidationError` "You are not authorized to use launch
/// template: lt-…" when the caller may not launch from it (seen in
/// ansible-collections/community.aws #831).
pub const DENIAL_WORDING: &[&str] = &["not authorized to", "is not authorized"];

/// Words by which a `ValidationError` says its subject is gone (matched
/// case-insensitively): Auto Scaling's "AutoScalingGroup name not found - …",
/// CloudFormation's "Stack with id … does not exist" (`ValidationError`, 400: "Common
/// Errors" pages, "The input fails to satisfy the constraints specified by an AWS service").
pub const GONE_WORDING: &[&str] = &["not found", "does not exist"];

fn worded(message: &str, words: &[&str]) -> bool {
    let m = message.to_ascii_lowercase();
    words.iter().any(|w| m.contains(w))
}

/// Whether an error message says, in AWS's usual words ([`DENIAL_WORDING`]), that the
/// caller lacks a permission.
pub fn worded_as_denial(message: &str) -> bool {
    worded(message, DENIAL_WORDING)
}

/// What a failed call's `code` and `message` mean. In order:
/// 1. a code in [`CODES`] or [`CODE_PATTERNS`] whose class is not `AuthFailure` decides
///    (a denial code, throttling, "not yet", "gone" and a dry run name what happened
///    whatever the words);
/// 2. a message worded as a denial ([`DENIAL_WORDING`]) is `Denied`: this is how Auto
///    Scaling denies a launch template under `ValidationError`, and EC2 says `AuthFailure`
///    may mean a resource the caller may not use (EC2 API Reference, "Error codes for the
///    Amazon EC2 API"), so an `AuthFailure` worded as a denial is one;
/// 3. an authentication code is `AuthFailure`;
/// 4. a `ValidationError` worded as "not found" or "does not exist" ([`GONE_WORDING`]) is
///    `Gone`;
/// 5. anything else is `Other`.
///
/// With an empty message only the code is read (`classify(code, "")`).
pub fn classify(code: &str, message: &str) -> ErrorClass {
    let by_code = CODES
        .iter()
        .find(|(c, _)| *c == code)
        .or_else(|| CODE_PATTERNS.iter().find(|(part, _)| code.contains(part)))
        .map(|(_, class)| *class);
    match by_code {
        Some(class) if class != AuthFailure => class,
        _ if worded_as_denial(message) => Denied,
        Some(class) => class,
        None if code == "ValidationError" && worded(message, GONE_WORDING) => Gone,
        None => ErrorClass::Other,
    }
}

/// What a whole answer means, for deciding whether to call again: [`classify`], except
/// that a 5xx answer it cannot explain (`Other`) is `ServerError`.
pub fn classify_answer(status: u16, code: &str, message: &str) -> ErrorClass {
    match classify(code, message) {
        ErrorClass::Other if status >= 500 => ErrorClass::ServerError,
        class => class,
    }
}

/// Whether `code` alone is one by which a protocol says "denied" (for reading answers):
/// [`classify`] reads the codes.
pub fn is_denial_code(code: &str) -> bool {
    classify(code, "") == ErrorClass::Denied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_service_errors_per_protocol() {
        let ec2 = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors></Response>";
        assert_eq!(service_error(Protocol::Ec2, 403, &[], ec2), Some(("UnauthorizedOperation".into(), "no".into())));
        let json = r#"{"__type":"com.amazonaws.secretsmanager#AccessDeniedException","Message":"no"}"#;
        assert_eq!(service_error(Protocol::Json, 400, &[], json), Some(("AccessDeniedException".into(), "no".into())));
        assert_eq!(service_error(Protocol::Query, 200, &[], ""), None);
    }

    #[test]
    fn answers_are_classified_by_code_then_wording() {
        use ErrorClass::*;
        let cases: &[(&str, &str, ErrorClass)] = &[
            // Denials, per protocol, whatever the words.
            (
                "UnauthorizedOperation",
                "You are not authorized to perform this operation. Encoded authorization failure message: AbCd",
                Denied,
            ),
            ("UnauthorizedOperation", "", Denied),
            (
                "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
                "The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances.",
                Denied,
            ),
            (
                "AccessDenied",
                "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: iam:PassRole",
                Denied,
            ),
            ("AccessDeniedException", "", Denied),
            // Authentication failures.
            ("AuthFailure", "AWS was not able to validate the provided access credentials", AuthFailure),
            ("InvalidClientTokenId", "The security token included in the request is invalid.", AuthFailure),
            (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                AuthFailure,
            ),
            ("IncompleteSignature", "", AuthFailure),
            ("ExpiredToken", "The security token included in the request is expired", AuthFailure),
            ("ExpiredTokenException", "", AuthFailure),
            ("UnrecognizedClientException", "The security token included in the request is invalid.", AuthFailure),
            // EC2 says AuthFailure may be a resource the caller may not use: worded so, a denial.
            ("AuthFailure", "You are not authorized to use this AMI", Denied),
            // Throttling.
            ("Throttling", "Rate exceeded", Throttled),
            ("ThrottlingException", "", Throttled),
            ("RequestLimitExceeded", "Request limit exceeded.", Throttled),
            ("TooManyRequestsException", "", Throttled),
            ("RequestThrottled", "", Throttled),
            ("ThrottledException", "", Throttled),
            // Not yet.
            ("DependencyViolation", "The subnet 'subnet-1' has dependencies and cannot be deleted.", NotYet),
            ("InvalidGroup.InUse", "", NotYet),
            ("VolumeInUse", "vol-1 is currently attached to i-1", NotYet),
            ("InvalidIPAddress.InUse", "", NotYet),
            ("IncorrectState", "vol-1 is not 'available'.", NotYet),
            ("ResourceInUse", "", NotYet),
            ("ScalingActivityInProgress", "", NotYet),
            ("DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", NotYet),
            // Gone, by code or by a code's part.
            ("NoSuchEntity", "The role with name r cannot be found.", Gone),
            ("Gateway.NotAttached", "", Gone),
            ("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist", Gone),
            ("InvalidAssociationID.NotFound", "", Gone),
            ("InvalidGroup.NotFound", "", Gone),
            ("InvalidPermission.NotFound", "", Gone),
            ("NatGatewayNotFound", "", Gone),
            ("InvalidLaunchTemplateName.NotFoundException", "", Gone),
            ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.", Gone),
            ("LoadBalancerNotFound", "", Gone),
            // A code that names what happened is read so whatever the words.
            ("InvalidVpcID.NotFound", "you are not authorized to know", Gone),
            ("Throttling", "is not authorized", Throttled),
            // ValidationError: the words decide.
            ("ValidationError", "AutoScalingGroup name not found - AutoScalingGroup 'g1' not found", Gone),
            ("ValidationError", "Stack with id s does not exist", Gone),
            ("ValidationError", "You are not authorized to use launch template: lt-0a1b2c3d4e5f60015", Denied),
            ("ValidationError", "1 validation error detected", Other),
            ("ValidationError", "", Other),
            // Denial wording under any other code, in any case.
            ("InvalidInput", "USER X IS NOT AUTHORIZED TO PERFORM: y", Denied),
            ("OperationNotPermitted", "", Other),
            // The "not found" wording is ValidationError's only.
            ("InvalidParameterValue", "Value (x) for parameter y does not exist", Other),
            // Dry runs.
            ("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", DryRunAuthorized),
            // Nothing known.
            (
                "InvalidInput",
                "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a different suffix.",
                Other,
            ),
            ("InternalFailure", "", Other),
            ("HTTP500", "", Other),
            ("", "", Other),
            // Codes are matched as AWS spells them.
            ("accessdenied", "", Other),
        ];
        for (code, message, expected) in cases {
            assert_eq!(classify(code, message), *expected, "{code}: {message}");
        }
    }

    /// The six lists this table replaced, as they were: every code they held is still
    /// read as they read it (`BUSY_CODES` meant "retry": throttled or not yet).
    #[test]
    fn every_code_the_old_lists_held_is_still_recognized() {
        use ErrorClass::*;
        // gate::deny::is_denial_code
        for code in [
            "UnauthorizedOperation",
            "AccessDenied",
            "AccessDeniedException",
            "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
        ] {
            assert_eq!(classify(code, ""), Denied, "{code}");
        }
        // run.rs AUTH_FAILURES
        for code in [
            "AuthFailure",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "UnrecognizedClientException",
            "IncompleteSignature",
        ] {
            assert_eq!(classify(code, ""), AuthFailure, "{code}");
        }
        // run.rs BUSY_CODES
        for code in [
            "DependencyViolation",
            "ResourceInUse",
            "ScalingActivityInProgress",
            "IncorrectState",
            "InvalidGroup.InUse",
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "RequestThrottled",
        ] {
            assert!(matches!(classify(code, ""), Throttled | NotYet), "{code}");
        }
        // sweep's throttled
        for code in ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"] {
            assert_eq!(classify(code, ""), Throttled, "{code}");
        }
        // sweep's dependency
        for code in ["DependencyViolation", "VolumeInUse", "ResourceInUse", "InvalidIPAddress.InUse", "DeleteConflict"]
        {
            assert_eq!(classify(code, ""), NotYet, "{code}");
        }
        // sweep's already_done, by code
        for code in
            ["NoSuchEntity", "ResourceNotFoundException", "Gateway.NotAttached", "AnythingNotFound", "X.NotFound"]
        {
            assert_eq!(classify(code, ""), Gone, "{code}");
        }
    }

    #[test]
    fn the_table_names_each_code_once() {
        let mut codes: Vec<&str> = CODES.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "a code is listed twice");
        // An exact code is never also caught by a pattern with another class.
        for (code, class) in CODES {
            for (part, pattern_class) in CODE_PATTERNS {
                assert!(!code.contains(part) || class == pattern_class, "{code} vs {part}");
            }
        }
    }

    #[test]
    fn a_server_error_is_read_from_the_status_when_the_code_says_nothing() {
        use ErrorClass::*;
        let cases = [
            (500, "InternalFailure", "", ServerError),
            (503, "ServiceUnavailable", "", ServerError),
            (500, "HTTP500", "", ServerError),
            (500, "ResourceContention", "You already have a pending update", ServerError),
            // A code that says more keeps its class.
            (503, "Throttling", "", Throttled),
            (500, "DependencyViolation", "", NotYet),
            (400, "InternalFailure", "", Other),
            (400, "Throttling", "", Throttled),
            (403, "AccessDenied", "", Denied),
        ];
        for (status, code, message, expected) in cases {
            assert_eq!(classify_answer(status, code, message), expected, "{status} {code}");
        }
        assert!(worded_as_denial("You are Not Authorized To use launch template: lt-1"));
        assert!(!worded_as_denial("Rate exceeded"));
    }
}
