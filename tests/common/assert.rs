//! Refusal checks: a refused call has exactly the expected code, a message
//! naming what was wrong, and left the log size and root as they were (and
//! no refused envelope is in the log).
//!
//! [`refuse_all`] runs a table of [`RefusalCase`]s against one fixture and
//! names every failing case in its panic message: to add a refusal, add a
//! row to a table (see `tests/e2e/`).

use std::collections::BTreeSet;
use std::fmt::Debug;

use coopledger::client::LedgerClient;
use coopledger::pb;
use tonic::{Code, Status};

use super::TestServer;
use super::builders::id_of;
use super::rpc::info;

/// One row of a refusal table: an envelope built from a fixture `F` that
/// `Submit` must refuse with `code` and a message containing `message`.
pub struct RefusalCase<F> {
    /// Names the case in a failure (unique within its table).
    pub name: &'static str,
    /// Builds the envelope from the fixture (a plain `fn`, or a closure
    /// that captures nothing).
    pub build: fn(&F) -> pb::Envelope,
    /// The exact status code.
    pub code: Code,
    /// A substring the status message must contain.
    pub message: &'static str,
}

/// Anything refusal cases are built from: it owns the server they go to.
pub trait Fixture {
    /// The server the envelopes are submitted to.
    fn server(&self) -> &TestServer;
}

/// Submits every case's envelope (in order, on one new connection) and
/// checks each refusal as [`submit_refused`] does. Every case runs; the
/// panic lists each failing case by name with what was wrong.
pub async fn refuse_all<F: Fixture>(fixture: &F, cases: &[RefusalCase<F>]) {
    let mut names = BTreeSet::new();
    for case in cases {
        assert!(
            names.insert(case.name),
            "two refusal cases are named {:?}",
            case.name
        );
    }
    let mut client = fixture.server().client().await;
    let mut failures = Vec::new();
    for case in cases {
        let envelope = (case.build)(fixture);
        if let Err(problem) =
            submit_refusal_problem(&mut client, &envelope, case.code, case.message).await
        {
            failures.push(format!("refusal case {:?}: {problem}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} refusal case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// What is wrong with an entry of this id being in the log, if it is.
async fn absence_problem(client: &mut LedgerClient, id: &[u8]) -> Option<String> {
    let result = client
        .get_entry(pb::GetEntryRequest {
            key: Some(pb::get_entry_request::Key::Id(id.to_vec())),
        })
        .await;
    match result {
        Ok(e) => Some(format!(
            "entry {} is in the log at sequence {}",
            hex::encode(id),
            e.into_inner().sequence
        )),
        Err(s) if s.code() == Code::NotFound => None,
        Err(s) => Some(format!(
            "GetEntry of an absent id: expected NotFound, got {:?}: {}",
            s.code(),
            s.message()
        )),
    }
}

/// Asserts that no entry with this id is in the log.
pub async fn assert_absent(client: &mut LedgerClient, id: &[u8]) {
    if let Some(problem) = absence_problem(client, id).await {
        panic!("{problem}");
    }
}

/// As [`assert_refused`], returning what is wrong instead of panicking.
pub async fn refusal_problem<T: Debug>(
    client: &mut LedgerClient,
    before: &pb::ServerInfo,
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    substring: &str,
) -> Result<Status, String> {
    let status = match result {
        Ok(response) => {
            return Err(format!(
                "expected {code:?} ({substring:?}) but the call succeeded: {:?}",
                response.into_inner()
            ));
        }
        Err(status) => status,
    };
    if status.code() != code {
        return Err(format!(
            "wrong status code {:?} (wanted {code:?}); message: {:?}",
            status.code(),
            status.message()
        ));
    }
    if !status.message().contains(substring) {
        return Err(format!(
            "the {code:?} message {:?} does not contain {substring:?}",
            status.message()
        ));
    }
    let after = info(client).await;
    if after.log_size != before.log_size {
        return Err(format!(
            "a refusal changed the log size from {} to {} ({:?})",
            before.log_size,
            after.log_size,
            status.message()
        ));
    }
    if after.root != before.root {
        return Err(format!(
            "a refusal changed the log root ({:?})",
            status.message()
        ));
    }
    Ok(status)
}

/// Asserts that `result` is a refusal with exactly `code` whose message
/// contains `substring`, and that the log size and root (from
/// `GetServerInfo`) are what they were in `before`. Returns the status.
pub async fn assert_refused<T: Debug>(
    client: &mut LedgerClient,
    before: &pb::ServerInfo,
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    substring: &str,
) -> Status {
    refusal_problem(client, before, result, code, substring)
        .await
        .unwrap_or_else(|problem| panic!("{problem}"))
}

/// As [`submit_refused`], returning what is wrong instead of panicking.
async fn submit_refusal_problem(
    client: &mut LedgerClient,
    envelope: &pb::Envelope,
    code: Code,
    substring: &str,
) -> Result<Status, String> {
    let before = info(client).await;
    let result = client
        .submit(pb::SubmitRequest {
            envelope: Some(envelope.clone()),
        })
        .await;
    let status = refusal_problem(client, &before, result, code, substring).await?;
    match absence_problem(client, &id_of(envelope)).await {
        Some(problem) => Err(problem),
        None => Ok(status),
    }
}

/// `Submit` must be refused (see [`assert_refused`]) and the envelope's id
/// must not be in the log afterwards.
pub async fn submit_refused(
    client: &mut LedgerClient,
    envelope: &pb::Envelope,
    code: Code,
    substring: &str,
) -> Status {
    submit_refusal_problem(client, envelope, code, substring)
        .await
        .unwrap_or_else(|problem| panic!("{problem}"))
}

/// `SubmitBatch` must be refused whole (see [`assert_refused`]): none of the
/// envelopes may be in the log afterwards.
pub async fn batch_refused(
    client: &mut LedgerClient,
    envelopes: &[pb::Envelope],
    code: Code,
    substring: &str,
) -> Status {
    let before = info(client).await;
    let result = client
        .submit_batch(pb::SubmitBatchRequest {
            envelopes: envelopes.to_vec(),
        })
        .await;
    let status = assert_refused(client, &before, result, code, substring).await;
    for e in envelopes {
        assert_absent(client, &id_of(e)).await;
    }
    status
}
