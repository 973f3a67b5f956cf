//! Reads: every entry type lands and reads back as the exact signed bytes
//! (GetEntry by id and by sequence, ListEntries), and every ListEntries
//! filter returns exactly the right sequences; bad filters are refused.

use std::collections::BTreeSet;

use coopledger::ledger::Limits;
use coopledger::pb::{self, entry::Body};
use prost::Message;
use tonic::Code;

use crate::common::*;
use crate::scenario::{SCENARIO_SIZE, Scenario, kind_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_type_lands_and_reads_back_byte_identical() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let s = Scenario::build(&server, &mut client).await;

    let info = info(&mut client).await;
    assert_eq!(info.log_size, SCENARIO_SIZE);
    assert_eq!(
        info.root,
        s.receipts.last().expect("receipts").root,
        "the root is the last receipt's root"
    );
    assert_eq!(info.root.len(), 32);
    assert_eq!(info.network_id, s.network.id);
    assert_eq!(
        (
            info.network_name.as_str(),
            info.currency.as_str(),
            info.decimals
        ),
        ("Test Coop", "EUR", 2)
    );

    for (seq, submitted) in s.envelopes.iter().enumerate() {
        let seq = seq as u64;
        let by_seq = get_by_sequence(&mut client, seq).await;
        assert_eq!(by_seq.sequence, seq);
        assert_eq!(
            by_seq.id, s.receipts[seq as usize].id,
            "GetEntry's id is the receipt's id"
        );
        assert_eq!(by_seq.id, id_of(submitted));
        assert_eq!(
            by_seq.envelope.as_ref(),
            Some(submitted),
            "entry {seq}: the stored envelope is not the signed one"
        );
        let decoded = pb::Entry::decode(submitted.payload.as_slice()).expect("decode payload");
        assert_eq!(
            by_seq.entry.as_ref(),
            Some(&decoded),
            "entry {seq}: the decoded entry differs from the payload"
        );
        let by_id = get_by_id(&mut client, &by_seq.id).await;
        assert_eq!(
            by_id, by_seq,
            "entry {seq}: GetEntry by id and by sequence differ"
        );
    }

    let all = list(&mut client, pb::ListEntriesRequest::default()).await;
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (0..SCENARIO_SIZE).collect::<Vec<_>>()
    );
    for e in &all {
        assert_eq!(
            e.envelope.as_ref(),
            Some(&s.envelopes[e.sequence as usize]),
            "ListEntries changed entry {}",
            e.sequence
        );
    }
    let kinds: BTreeSet<i32> = all.iter().map(|e| kind_of(e) as i32).collect();
    // Every kind but the suspension and key-reset ones (see `stolen_key`).
    let every_kind: BTreeSet<i32> = (1..=11)
        .chain([pb::EntryKind::AttestContribution as i32])
        .collect();
    assert_eq!(kinds, every_kind, "the scenario covers every entry kind");
    let contribution_kinds: BTreeSet<i32> = all
        .iter()
        .filter_map(|e| match e.entry.as_ref()?.body.as_ref()? {
            Body::LogContribution(l) => l.contribution.as_ref().map(|c| c.kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        contribution_kinds,
        (1..=5).collect::<BTreeSet<i32>>(),
        "a contribution of every kind landed"
    );

    // Past the end, and an unknown id.
    let past = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Sequence(SCENARIO_SIZE)),
        })
        .await;
    assert_eq!(
        past.expect_err("no entry past the end").code(),
        Code::NotFound
    );
    assert_absent(&mut client, &[7u8; 32]).await;
    let bad_id = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Id(vec![1, 2, 3])),
        })
        .await;
    assert_eq!(
        bad_id.expect_err("a 3-byte id").code(),
        Code::InvalidArgument
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_entries_filters_return_exactly_the_right_sequences() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let _s = Scenario::build(&server, &mut client).await;

    let period = |(start, end): (i64, i64)| Some(pb::Period { start, end });
    let now = now_ms() / 1000;
    let req =
        |member: &str, kinds: &[pb::EntryKind], p: Option<pb::Period>| pb::ListEntriesRequest {
            member: member.into(),
            kinds: kinds.iter().map(|k| *k as i32).collect(),
            period: p,
            ..Default::default()
        };
    use pb::EntryKind as K;
    let cases: Vec<(&str, pb::ListEntriesRequest, Vec<u64>)> = vec![
        (
            "everything",
            req("", &[], None),
            (0..SCENARIO_SIZE).collect(),
        ),
        (
            "kind log_contribution",
            req("", &[K::LogContribution], None),
            vec![8, 9, 10, 11, 12],
        ),
        (
            "kinds evaluate+allocate",
            req("", &[K::Evaluate, K::Allocate], None),
            vec![15, 16, 17, 18],
        ),
        ("kind genesis", req("", &[K::Genesis], None), vec![0]),
        (
            "kinds rotate+grant+revoke",
            req("", &[K::RotateKey, K::GrantRole, K::RevokeRole], None),
            vec![3, 4, 5, 6],
        ),
        (
            "kinds amend+retract+adopt",
            req(
                "",
                &[K::AmendContribution, K::RetractContribution, K::AdoptPolicy],
                None,
            ),
            vec![7, 13, 14],
        ),
        (
            "member alice",
            req("alice", &[], None),
            vec![0, 1, 2, 4, 6, 7, 16, 17],
        ),
        (
            "member bob",
            req("bob", &[], None),
            vec![1, 3, 5, 6, 8, 9, 13, 14, 15, 17, 18],
        ),
        (
            "member carol",
            req("carol", &[], None),
            vec![2, 4, 10, 11, 15, 16, 17, 18, 19],
        ),
        (
            "member dave",
            req("dave", &[], None),
            vec![0, 5, 12, 18, 19],
        ),
        (
            "kind attest_contribution",
            req("", &[K::AttestContribution], None),
            vec![19],
        ),
        (
            "carol's contributions, logged and attested",
            req("carol", &[K::LogContribution, K::AttestContribution], None),
            vec![10, 11, 19],
        ),
        (
            "period jan 2020",
            req("", &[], period(JAN_2020)),
            vec![8, 9, 12, 13, 14, 15, 17],
        ),
        (
            "period feb 2020",
            req("", &[], period(FEB_2020)),
            vec![10, 11, 16, 18, 19],
        ),
        (
            "period 2019",
            req("", &[], period((1_546_300_800, 1_577_836_800))),
            vec![],
        ),
        (
            "period around now (by created_at)",
            req("", &[], period((now - 3600, now + 3600))),
            (0..=7).collect(),
        ),
        (
            "bob's contributions",
            req("bob", &[K::LogContribution], None),
            vec![8, 9],
        ),
        (
            "bob in jan 2020",
            req("bob", &[], period(JAN_2020)),
            vec![8, 9, 13, 14, 15, 17],
        ),
        (
            "carol in feb 2020",
            req("carol", &[], period(FEB_2020)),
            vec![10, 11, 16, 18, 19],
        ),
        (
            "evaluations in feb 2020",
            req("", &[K::Evaluate], period(FEB_2020)),
            vec![16],
        ),
        (
            "dave's allocations",
            req("dave", &[K::Allocate], None),
            vec![18],
        ),
        (
            "from 5 to 10",
            pb::ListEntriesRequest {
                from_sequence: 5,
                to_sequence: 10,
                ..Default::default()
            },
            vec![5, 6, 7, 8, 9],
        ),
        (
            "bob from 5 to 10",
            pb::ListEntriesRequest {
                from_sequence: 5,
                to_sequence: 10,
                member: "bob".into(),
                ..Default::default()
            },
            vec![5, 6, 8, 9],
        ),
        (
            "from 17 to the end",
            pb::ListEntriesRequest {
                from_sequence: 17,
                ..Default::default()
            },
            vec![17, 18, 19],
        ),
        (
            "limit 3",
            pb::ListEntriesRequest {
                limit: 3,
                ..Default::default()
            },
            vec![0, 1, 2],
        ),
        (
            "carol, limit 2",
            pb::ListEntriesRequest {
                limit: 2,
                member: "carol".into(),
                ..Default::default()
            },
            vec![2, 4],
        ),
        (
            "to past the end",
            pb::ListEntriesRequest {
                from_sequence: 16,
                to_sequence: 1000,
                ..Default::default()
            },
            vec![16, 17, 18, 19],
        ),
    ];
    for (name, request, expected) in cases {
        assert_eq!(
            list_sequences(&mut client, request).await,
            expected,
            "ListEntries filter: {name}"
        );
    }

    // Bad filters are refused with the right code and change nothing.
    let before = info(&mut client).await;
    let bad: Vec<(pb::ListEntriesRequest, Code, &str)> = vec![
        (
            pb::ListEntriesRequest {
                kinds: vec![99],
                ..Default::default()
            },
            Code::InvalidArgument,
            "kinds",
        ),
        // A filter naming nobody would read as "did nothing": refused.
        (
            req("zed", &[], None),
            Code::NotFound,
            "\"zed\" is not a member",
        ),
        (
            req("Not A Handle", &[], None),
            Code::InvalidArgument,
            "member",
        ),
        (
            pb::ListEntriesRequest {
                from_sequence: 5,
                to_sequence: 2,
                ..Default::default()
            },
            Code::InvalidArgument,
            "from_sequence",
        ),
        (
            req("", &[], period((JAN_2020.1, JAN_2020.0))),
            Code::InvalidArgument,
            "period",
        ),
        (
            pb::ListEntriesRequest {
                limit: Limits::default().max_list_entries + 1,
                ..Default::default()
            },
            Code::ResourceExhausted,
            "limit",
        ),
    ];
    for (request, code, substring) in bad {
        let result = client.list_entries(request).await;
        assert_refused(&mut client, &before, result, code, substring).await;
    }
}
