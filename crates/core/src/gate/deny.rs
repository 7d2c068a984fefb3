//! Denials as AWS sends them, per protocol (docs/aws-facts.md, "Denial shapes per
//! protocol"): EC2 `UnauthorizedOperation` (403, EC2 XML), classic ELB /
//! Auto Scaling / IAM / STS / CloudFormation `AccessDenied` (403, query XML), Secrets
//! Manager and the tagging API `AccessDeniedException` (400, JSON 1.1).

use crate::policy::Outcome;
use crate::wire::Protocol;
use crate::xml::escape;

/// An HTTP response the gate sends instead of forwarding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The HTTP status the service uses for a denial (403, or 400 for JSON services).
    pub status: u16,
    /// The headers the service sends with it, such as its content type.
    pub headers: Vec<(String, String)>,
    /// The error document, in the service's protocol.
    pub body: String,
    /// The error code, which the SDKs read to recognize a denial.
    pub code: String,
}

/// The message AWS gives for a denied action, explicit or implicit.
pub fn message(principal: &str, action: &str, resource: &str, outcome: Outcome) -> String {
    let why = match outcome {
        Outcome::ExplicitDeny => "with an explicit deny in an identity-based policy".to_string(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    format!("User: {principal} is not authorized to perform: {action} on resource: {resource} {why}")
}

/// The denial of `action` on `resource` for a request of `protocol`. `code_override`
/// carries the special codes (EC2's `AuthFailure.ServiceLinkedRoleCreationNotPermitted`).
pub fn denial(protocol: Protocol, message: &str, request_id: &str, code_override: Option<&str>) -> Denial {
    match protocol {
        Protocol::Ec2 => {
            let code = code_override.unwrap_or("UnauthorizedOperation").to_string();
            let text = format!("You are not authorized to perform this operation. {message}");
            Denial {
                status: 403,
                headers: vec![("content-type".into(), "text/xml;charset=UTF-8".into())],
                body: format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                    escape(&text)
                ),
                code,
            }
        }
        Protocol::Query => {
            let code = code_override.unwrap_or("AccessDenied").to_string();
            Denial {
                status: 403,
                headers: vec![("content-type".into(), "text/xml".into())],
                body: format!(
                    "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                    escape(message)
                ),
                code,
            }
        }
        Protocol::Json => {
            let code = code_override.unwrap_or("AccessDeniedException").to_string();
            Denial {
                status: 400,
                headers: vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amzn-errortype".into(), format!("{code}:")),
                    ("x-amzn-requestid".into(), request_id.into()),
                ],
                body: serde_json::json!({"__type": code, "Message": message}).to_string(),
                code,
            }
        }
    }
}

pub use crate::errors::is_denial_code;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::service_error;

    #[test]
    fn each_protocol_reads_back_as_its_code() {
        let msg = message(
            "arn:aws:sts::1:assumed-role/r/s",
            "ec2:CreateVolume",
            "arn:aws:ec2:us-west-2:1:volume/*",
            Outcome::ImplicitDeny,
        );
        for (protocol, status, code) in [
            (Protocol::Ec2, 403, "UnauthorizedOperation"),
            (Protocol::Query, 403, "AccessDenied"),
            (Protocol::Json, 400, "AccessDeniedException"),
        ] {
            let d = denial(protocol, &msg, "req-1", None);
            assert_eq!(d.status, status);
            let (read, text) = service_error(protocol, d.status, &d.headers, &d.body).unwrap();
            assert_eq!(read, code);
            assert!(text.contains("ec2:CreateVolume"), "{text}");
            assert!(is_denial_code(&read));
        }
        assert!(msg.ends_with("because no identity-based policy allows the ec2:CreateVolume action"));
        assert!(message("p", "a:B", "r", Outcome::ExplicitDeny).contains("explicit deny"));
    }
}
