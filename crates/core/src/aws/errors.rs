//! Reading AWS's error answers: the code and message of a failed call, in each protocol's
//! shape (JSON `__type` or `x-amzn-errortype`; XML `Code`/`Message`).

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
}
