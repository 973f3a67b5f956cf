"""A small client of the coopledger.v1.Ledger gRPC service.

  c = Client("127.0.0.1:7070")                                  # plaintext (loopback only)
  c = Client("coop.example.org:7443", root_certificates=ca_pem) # TLS, trusting ca_pem
  c = Client("coop.example.org:7443", tls=True)                 # TLS, the system's roots

Each request is serialized once; those exact bytes are sent and, for a
signed read, hashed and signed (see reads.py). Every call has a timeout.
"""
import grpc

from . import stubs
from .entries import Signed
from .reads import Reader

SERVICE = "/coopledger.v1.Ledger/"

_s = stubs.load()
lpb = _s.ledger_pb2

# method -> (request class, response class, server-streaming)
METHODS = {
    "GetServerInfo": (lpb.GetServerInfoRequest, lpb.ServerInfo, False),
    "Submit": (lpb.SubmitRequest, lpb.Receipt, False),
    "SubmitBatch": (lpb.SubmitBatchRequest, lpb.SubmitBatchResponse, False),
    "GetEntry": (lpb.GetEntryRequest, lpb.LoggedEntry, False),
    "ListEntries": (lpb.ListEntriesRequest, lpb.LoggedEntry, True),
    "Subscribe": (lpb.SubscribeRequest, lpb.LoggedEntry, True),
    "GetMember": (lpb.GetMemberRequest, lpb.Member, False),
    "ListMembers": (lpb.ListMembersRequest, lpb.ListMembersResponse, False),
    "GetCheckpoint": (lpb.GetCheckpointRequest, lpb.SignedCheckpoint, False),
    "GetInclusionProof": (lpb.GetInclusionProofRequest, lpb.InclusionProof, False),
    "GetConsistencyProof": (lpb.GetConsistencyProofRequest, lpb.ConsistencyProof, False),
    "ComputeShares": (lpb.ComputeSharesRequest, lpb.SharesReportPart, True),
    "Explain": (lpb.ExplainRequest, lpb.ExplanationPart, True),
    "ListDistributions": (lpb.ListDistributionsRequest, lpb.ListDistributionsResponse, False),
    "GetDistribution": (lpb.GetDistributionRequest, lpb.Distribution, False),
}


class Client:
    def __init__(self, target: str, *, root_certificates: bytes | None = None,
                 tls: bool = False, timeout: float = 10.0):
        self.target = target
        self.timeout = timeout
        if root_certificates is not None or tls:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = grpc.secure_channel(target, creds)
        else:
            self.channel = grpc.insecure_channel(target)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, method: str, request, *, reader: Reader | None = None,
             metadata: list[tuple[str, str]] | None = None, timeout: float | None = None):
        """Calls one RPC: a response, or a list of them for a server stream.

        With `reader`, the call is a signed read over exactly the bytes sent.
        `metadata` replaces the signed-read headers (for tests of refusals).
        """
        req_cls, resp_cls, streaming = METHODS[method]
        if not isinstance(request, req_cls):
            raise TypeError(f"{method} takes {req_cls.__name__}")
        path = SERVICE + method
        raw = request.SerializeToString()
        if metadata is None:
            metadata = reader.metadata(path, raw) if reader is not None else []
        t = self.timeout if timeout is None else timeout
        # No request_serializer: grpc sends `raw` as is, the bytes that were signed.
        if streaming:
            rpc = self.channel.unary_stream(path, response_deserializer=resp_cls.FromString)
            return list(rpc(raw, metadata=metadata, timeout=t))
        rpc = self.channel.unary_unary(path, response_deserializer=resp_cls.FromString)
        return rpc(raw, metadata=metadata, timeout=t)

    # The calls the end-to-end run uses; anything else goes through call().

    def server_info(self, **kw):
        return self.call("GetServerInfo", lpb.GetServerInfoRequest(), **kw)

    def submit(self, signed: Signed, **kw):
        return self.call("Submit", lpb.SubmitRequest(envelope=signed.envelope), **kw)

    def get_entry(self, *, id: bytes | None = None, sequence: int | None = None, **kw):
        req = lpb.GetEntryRequest(id=id) if id is not None else lpb.GetEntryRequest(sequence=sequence)
        return self.call("GetEntry", req, **kw)

    def list_entries(self, *, reader: Reader | None = None, **filters):
        return self.call("ListEntries", lpb.ListEntriesRequest(**filters), reader=reader)

    def checkpoint(self, **kw):
        return self.call("GetCheckpoint", lpb.GetCheckpointRequest(), **kw)

    def inclusion_proof(self, *, id: bytes, tree_size: int = 0, **kw):
        return self.call("GetInclusionProof",
                         lpb.GetInclusionProofRequest(id=id, tree_size=tree_size), **kw)
