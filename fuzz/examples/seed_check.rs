//! Prints, for each gate seed, whether it authenticates and what the gate decides.
use iamc_core::gate::decide::{KnownKey, ParsedRequest, authenticate};
use iamc_core::gate::record::Caller;
use iamc_fuzz::*;

fn main() {
    for arg in std::env::args().skip(1) {
        let data = std::fs::read(&arg).unwrap();
        let split = SplitRequest::split(&data);
        let parts = split.parts();
        let lookup = |k: &str| match k {
            ROLE_KEY => Some(KnownKey {
                secret: ROLE_SECRET.into(),
                session_token: Some(ROLE_TOKEN.into()),
                expires: Some(NOW + 3600),
                caller: Caller::Role("r".into()),
            }),
            ADMIN_KEY => Some(KnownKey {
                secret: ADMIN_SECRET.into(),
                session_token: None,
                expires: None,
                caller: Caller::Admin,
            }),
            _ => None,
        };
        let a = authenticate(&parts, &lookup, NOW);
        let p = ParsedRequest::read(&parts, "us-west-2", "x-iam-conformance-scenario", "id");
        println!(
            "{arg}: auth={a:?} service={} op={:?} named={:?} wire_err={:?}",
            p.service,
            p.operation(),
            p.named,
            p.wire.as_ref().err()
        );
    }
}
