//! Paging by botocore's paginator data (`botocore/paginate.py`), one page at a time:
//! the caller makes the call, [`next_input`] says what the next one is.

use serde_json::Value;

use super::model::Paginator;

/// Python's truthiness, which botocore applies to tokens and to `more_results`: null,
/// false, `0`, `""`, `[]` and `{}` are false.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Bool(true)) => true,
    }
}

/// The input of the page after the one `input` asked for and `output` answered (both as
/// [`super::parse_response`] and [`super::serialize`] take them: API member names), or
/// `None` when that was the last page: `more_results` (IAM's `IsTruncated`) is not true,
/// or no output token is set (an empty token counts as none, as in botocore). The next
/// input is `input` with each token put in its input member (a token not given is
/// removed). A service answering the tokens it was just given ends the paging too
/// (botocore raises "The same next token was received twice"), so a loop over pages
/// always ends on a well-behaved or misbehaving service alike.
pub fn next_input(paginator: &Paginator, input: &Value, output: &Value) -> Option<Value> {
    if let Some(more) = &paginator.more_results
        && !truthy(output.get(more))
    {
        return None;
    }
    let tokens: Vec<(&String, Option<&Value>)> = paginator
        .input_token
        .iter()
        .zip(&paginator.output_token)
        .map(|(input_member, output_member)| {
            let token = output.get(output_member);
            (input_member, truthy(token).then(|| token.expect("truthy")))
        })
        .collect();
    if tokens.iter().all(|(_, t)| t.is_none()) {
        return None;
    }
    if tokens.iter().all(|(member, t)| input.get(member.as_str()) == *t) {
        return None;
    }
    let mut next = input.as_object().cloned().unwrap_or_default();
    for (member, token) in tokens {
        match token {
            Some(t) => next.insert(member.clone(), t.clone()),
            None => next.remove(member.as_str()),
        };
    }
    Some(Value::Object(next))
}

impl Paginator {
    /// The page's results: the items of the primary result key (`Stacks`, `Roles`),
    /// none when the output lacks it.
    pub fn results<'a>(&self, output: &'a Value) -> &'a [Value] {
        output.get(&self.result_key[0]).and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::models;
    use super::*;

    fn paginator(service: &str, operation: &str) -> &'static Paginator {
        models().service(service).unwrap().paginator(operation).unwrap_or_else(|| panic!("{service}:{operation}"))
    }

    #[test]
    fn ec2_pages_until_no_token() {
        let p = paginator("ec2", "DescribeVpcs");
        assert_eq!(
            (p.input_token.as_slice(), p.output_token.as_slice(), p.result_key.as_slice()),
            (&["NextToken".to_string()][..], &["NextToken".to_string()][..], &["Vpcs".to_string()][..])
        );
        assert_eq!(p.limit_key.as_deref(), Some("MaxResults"));
        let input = json!({"Filters": [{"Name": "tag-key", "Values": ["k"]}]});
        let page1 = json!({"Vpcs": [{"VpcId": "vpc-1"}], "NextToken": "t1"});
        let second = next_input(p, &input, &page1).unwrap();
        assert_eq!(second, json!({"Filters": [{"Name": "tag-key", "Values": ["k"]}], "NextToken": "t1"}));
        assert_eq!(p.results(&page1), [json!({"VpcId": "vpc-1"})]);
        let page2 = json!({"Vpcs": [], "NextToken": "t2"});
        assert_eq!(next_input(p, &second, &page2).unwrap()["NextToken"], "t2");
        // The last page: no token, an empty one, or the same one again.
        assert_eq!(next_input(p, &second, &json!({"Vpcs": []})), None);
        assert_eq!(next_input(p, &second, &json!({"NextToken": ""})), None);
        assert_eq!(next_input(p, &second, &json!({"NextToken": "t1"})), None, "the same token twice ends it");
        assert!(p.results(&json!({})).is_empty());
    }

    #[test]
    fn iam_pages_only_while_truncated() {
        let p = paginator("iam", "ListRoles");
        assert_eq!(p.more_results.as_deref(), Some("IsTruncated"));
        let page = json!({"Roles": [], "IsTruncated": true, "Marker": "m"});
        assert_eq!(next_input(p, &json!({}), &page), Some(json!({"Marker": "m"})));
        let last = json!({"Roles": [], "IsTruncated": false, "Marker": "m"});
        assert_eq!(next_input(p, &json!({}), &last), None, "a marker without IsTruncated true is no next page");
        assert_eq!(next_input(p, &json!({}), &json!({"Marker": "m"})), None);
    }

    #[test]
    fn elb_takes_next_marker_as_marker() {
        let p = paginator("elasticloadbalancing", "DescribeLoadBalancers");
        let next = next_input(p, &json!({"Marker": "a"}), &json!({"NextMarker": "b"}));
        assert_eq!(next, Some(json!({"Marker": "b"})));
    }

    #[test]
    fn every_kept_paginator_names_members_of_its_shapes() {
        // `WireModels::check` holds this; here the counts the extraction is expected to keep.
        let m = models();
        let count = |s: &str| {
            m.service(s).unwrap().read_operations().filter(|o| m.service(s).unwrap().paginator(o).is_some()).count()
        };
        assert_eq!(count("ec2"), 12);
        assert_eq!(count("iam"), 11);
        assert_eq!(count("cloudformation"), 2);
        assert_eq!(count("sts"), 0);
        assert!(m.service("ec2").unwrap().paginator("DescribeAddresses").is_none(), "DescribeAddresses does not page");
    }
}
