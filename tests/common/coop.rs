//! [`Coop`]: the small cooperative most end-to-end tests start from.

use coopledger::client::{LedgerClient, Signer};
use coopledger::ledger::Limits;
use coopledger::pb;
use tonic::{Code, Status};

use super::assert::{Fixture, submit_refused};
use super::builders::{id_of, work};
use super::rpc::{Network, admit, found_network, log_contribution};
use super::{JAN_2020, TestServer};

/// A small cooperative: alice (founder, admin), bob and carol (members),
/// and one contribution of bob's, on a server of its own.
pub struct Coop {
    pub server: TestServer,
    pub client: LedgerClient,
    pub network: Network,
    pub alice: Signer,
    pub bob: Signer,
    pub carol: Signer,
    /// Bob's 60 minutes of work in January 2020.
    pub bob_work: pb::Envelope,
}

impl Coop {
    /// Sets up the cooperative with default limits.
    pub async fn new() -> Coop {
        Coop::with_limits(Limits::default()).await
    }

    /// Sets up the cooperative on a server with `limits`.
    pub async fn with_limits(limits: Limits) -> Coop {
        let server = TestServer::with_limits(limits).await;
        let mut client = server.client().await;
        let network = found_network(&mut client, &["alice"]).await;
        let alice = network.founders[0].clone();
        let (bob, _) = admit(&mut client, &alice, "bob").await;
        let (carol, _) = admit(&mut client, &alice, "carol").await;
        let (bob_work, receipt) =
            log_contribution(&mut client, &bob, work(60, JAN_2020.0 + 3600)).await;
        assert_eq!(receipt.sequence, 3, "the setup entries land at 0..=3");
        Coop {
            server,
            client,
            network,
            alice,
            bob,
            carol,
            bob_work,
        }
    }

    /// The id of bob's contribution.
    pub fn bob_work_id(&self) -> Vec<u8> {
        id_of(&self.bob_work)
    }

    /// `Submit` of `envelope` must be refused with `code` and a message
    /// containing `substring`, leave the log size and root unchanged, and
    /// leave the envelope's id absent from the log.
    pub async fn refuse(&mut self, envelope: &pb::Envelope, code: Code, substring: &str) -> Status {
        submit_refused(&mut self.client, envelope, code, substring).await
    }
}

impl Fixture for Coop {
    fn server(&self) -> &TestServer {
        &self.server
    }
}
