//! An impartial bucket's participant count, when adoption already knows
//! it, is checked at adoption (DESIGN principle 8): beyond 500 with equal
//! weights — listed, or every member of a cooperative of more than 500 —
//! is refused naming the bucket's `participants`, while with EigenTrust
//! (trust can leave some out) it is left to scoring.

use super::*;
use common::{admit_body, new_key};
use coopledger::client::Signer;

/// alice, bob, carol, dave and `more` members m0, m1, ….
fn with_members(more: usize) -> Fold {
    let mut fold = Fold::new();
    let network_id = fold.alice.network_id.clone();
    for i in 0..more {
        let signer = Signer::new(format!("m{i}"), new_key(), &network_id);
        fold.push(&sign(
            &fold.alice,
            admit_body(&signer.handle, &signer.public_key()),
        ))
        .expect("admit");
    }
    fold
}

fn adopt(fold: &Fold, policy: &serde_json::Value) -> Result<(), Refusal> {
    fold.check(&sign(&fold.alice, adopt_body(&policy.to_string())))
        .map(|_| ())
}

fn impartial(participants: Option<Vec<String>>, eigentrust: bool) -> serde_json::Value {
    let mut bucket =
        json!({"type": "allocation", "percent_ppm": 1000000, "mechanism": "impartial"});
    if let Some(p) = participants {
        bucket["participants"] = json!(p);
    }
    let mut policy = json!({"buckets": [bucket]});
    if eigentrust {
        policy["evaluator_weights"] = json!({"method": "eigentrust", "pretrusted": ["alice"]});
    }
    policy
}

#[test]
fn impartial_counts_known_at_adoption_are_refused() {
    // 4 + 497 = 501 members.
    let fold = with_members(497);
    let refused = |r: Result<(), Refusal>, needle: &str| match r {
        Err(Refusal::InvalidArgument(m)) => {
            assert!(m.contains(needle), "expected {needle:?} in {m}");
            assert!(
                m.starts_with("adopt_policy.policy_json: buckets[0].participants: "),
                "{m}"
            );
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    refused(
        adopt(&fold, &impartial(None, false)),
        "every one of the 501 members takes part",
    );
    let all: Vec<String> = fold.state.members().map(|m| m.handle.clone()).collect();
    refused(
        adopt(&fold, &impartial(Some(all.clone()), false)),
        "at most 500 participants; it names 501",
    );
    // With EigenTrust, members of trust 0 take no part: left to scoring.
    adopt(&fold, &impartial(None, true)).expect("eigentrust, no participants");
    adopt(&fold, &impartial(Some(all.clone()), true)).expect("eigentrust, 501 listed");
    // 500 listed is within the bound; fewer than 3 never is.
    adopt(&fold, &impartial(Some(all[..500].to_vec()), false)).expect("500 listed");
    refused(
        adopt(&fold, &impartial(Some(all[..2].to_vec()), true)),
        "at least three participants; it names 2",
    );
    // A give bucket has no such bound.
    let give = json!({"buckets": [{"type": "allocation", "percent_ppm": 1000000,
        "mechanism": "give", "participants": all}]});
    adopt(&fold, &give).expect("give, 501 listed");
}
