#!/usr/bin/env python3
"""Runs the Python client end to end against a real `coopledger serve`.

  python clients/python/run_against_server.py      (after pip install -r clients/python/requirements.txt)

The binary is $COOPLEDGER_BIN, else target/debug/coopledger under the
repository root (built with `cargo build --locked` when absent). The server
listens on a free 127.0.0.1 port with its data in a temporary folder, over
TLS (a self-signed CA and a certificate for 127.0.0.1 made here) when
`coopledger serve --help` lists --tls-cert, else over plaintext, which the
run says. Everything is bounded: every RPC has a timeout, the whole run has
$COOPLEDGER_E2E_TIMEOUT seconds (default 180), and the server is stopped on
every exit. Exits non-zero on any failure; prints each check.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import grpc  # noqa: E402

from coopledger_client import entries, keys, proofs  # noqa: E402
from coopledger_client.client import Client, lpb  # noqa: E402
from coopledger_client.reads import Reader  # noqa: E402

epb = entries.pb
RPC_TIMEOUT = 10.0


class Failed(Exception):
    pass


class Run:
    def __init__(self):
        self.passed = 0

    def check(self, cond, what, detail=""):
        if not cond:
            raise Failed(what + (f": {detail}" if detail else ""))
        self.passed += 1
        print(f"ok    {what}", flush=True)

    def refused(self, code, what, fn):
        """Checks that fn() fails with this gRPC status code."""
        try:
            fn()
        except grpc.RpcError as e:
            self.check(e.code() == code, what, f"got {e.code().name}: {e.details()}")
            return
        raise Failed(f"{what}: the call succeeded")


def note(text):
    print(f"--    {text}", flush=True)


# ---- the binary and the server -------------------------------------------------------------

def coopledger_bin() -> Path:
    env = os.environ.get("COOPLEDGER_BIN")
    path = Path(env) if env else REPO / "target" / "debug" / "coopledger"
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        if env:
            raise Failed(f"COOPLEDGER_BIN={env} does not exist")
        note("target/debug/coopledger is absent: cargo build --locked")
        subprocess.run(["cargo", "build", "--locked"], cwd=REPO, check=True, timeout=1200)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 (and localhost) signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    folder.mkdir(mode=0o700)
    now = datetime.now(timezone.utc)
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, encipher_only=False, decipher_only=False)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coopledger e2e test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     **usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     **usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return ca_pem, cert_pem, key_pem


class Server:
    def __init__(self, binary: Path, tmp: Path, tls: tuple[Path, Path, Path] | None):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        args = [str(binary), "serve", "--listen", self.addr, "--data", str(tmp / "data"),
                "--checkpoint-copy", str(tmp / "data.checkpoint")]
        if tls:
            args += ["--tls-cert", str(tls[1]), "--tls-key", str(tls[2])]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, client: Client, seconds: float = 60.0):
        deadline = time.monotonic() + seconds
        while True:
            if self.proc.poll() is not None:
                raise Failed(f"the server exited with {self.proc.returncode}")
            try:
                return client.server_info(timeout=1.0)
            except grpc.RpcError as e:
                if time.monotonic() > deadline:
                    raise Failed(f"the server did not answer within {seconds:.0f}s: {e.code().name}")
                time.sleep(0.1)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode

    def tail(self, n=30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ---- the checks ----------------------------------------------------------------------------

def check_kat(run: Run):
    """Our encoder against tests/kat/entry_kat.py (a hand-written encoding, no Rust code)."""
    e = entries.new_entry(bytes([0x11]) * 32, "ana", created_at_ms=1790000000000,
                          nonce=bytes([0x22]) * 16,
                          log_contribution=entries.log_contribution(
                              "work", 90, 1790000000, tags=("design",), note="kat"))
    s = entries.sign(e, keys.Key.from_seed(bytes(range(32))))
    out = subprocess.run([sys.executable, str(REPO / "tests/kat/entry_kat.py")], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    kat = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
    ours = {
        "payload": s.envelope.payload.hex(), "pae": s.pae.hex(),
        "public_key": s.envelope.public_key.hex(), "signature": s.envelope.signature.hex(),
        "id": s.id.hex(), "leaf_hash": s.leaf_hash.hex(),
    }
    for name, value in ours.items():
        run.check(kat.get(name, "").strip() == value,
                  f"known answer: our {name} equals tests/kat/entry_kat.py's")


def check_keys(run: Run, binary: Path, tmp: Path) -> tuple[Path, keys.Key, keys.Key]:
    home = tmp / "home"
    ana = keys.load_or_create("ana", home)
    ben = keys.load_or_create("ben", home)
    path = keys.key_path("ana", home)
    text = path.read_text()
    run.check((path.stat().st_mode & 0o777) == 0o600 and re.fullmatch(r"[0-9a-f]{64}\n", text),
              "key file: keys/ana.key is 64 hex digits and a newline, mode 0600")
    run.check(keys.read_key_file(path).public_key == ana.public_key, "key file: reads back the same key")
    loose = tmp / "loose.key"
    shutil.copy(path, loose)
    os.chmod(loose, 0o644)
    try:
        keys.read_key_file(loose)
        run.check(False, "key file: one that others can read is refused")
    except keys.KeyFileError:
        run.check(True, "key file: one that others can read is refused")
    cli_home = tmp / "cli-home"
    out = subprocess.run([str(binary), "--home", str(cli_home), "keygen", "cai"], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    printed = re.search(r"\b([0-9a-f]{64})\b", out)
    cai = keys.read_key_file(keys.key_path("cai", cli_home))
    run.check(printed is not None and printed.group(1) == cai.public_hex,
              "key file: a key made by `coopledger keygen` loads here with the public key it printed")
    return home, ana, ben


def check_receipt(run: Run, what: str, receipt, signed: entries.Signed, sequence: int,
                  log_key: bytes):
    run.check(receipt.id == signed.id, f"{what}: receipt id equals the id computed here",
              f"{receipt.id.hex()} != {signed.id.hex()}")
    run.check(receipt.sequence == sequence and not receipt.duplicate and receipt.log_size == sequence + 1,
              f"{what}: landed at sequence {sequence}, log size {sequence + 1}",
              f"sequence {receipt.sequence}, size {receipt.log_size}, duplicate {receipt.duplicate}")
    cp = proofs.verify_checkpoint(receipt.checkpoint.note, log_key)
    run.check(cp.size == receipt.log_size and cp.root == receipt.root,
              f"{what}: receipt checkpoint signed by the log key, stating the receipt's size and root")


def main() -> int:
    run = Run()
    deadline = int(os.environ.get("COOPLEDGER_E2E_TIMEOUT", "180"))

    def on_alarm(*_):
        raise Failed(f"the run took longer than {deadline}s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(deadline)
    tmp = Path(tempfile.mkdtemp(prefix="coopledger-pyclient-"))
    server = None
    exit_code = 1
    tls_note = None
    try:
        binary = coopledger_bin()
        note(f"binary {binary}")
        check_kat(run)
        home, ana, ben = check_keys(run, binary, tmp)

        serve_help = subprocess.run([str(binary), "serve", "--help"], check=True,
                                    capture_output=True, text=True, timeout=60).stdout
        tls = None
        if "--tls-cert" in serve_help:
            tls = make_tls(tmp / "tls")
            tls_note = "ran over TLS (a self-signed CA made here, the server's certificate for 127.0.0.1)"
        else:
            tls_note = "TLS not available in this build: ran over plaintext"
        note(tls_note)
        server = Server(binary, tmp, tls)
        client = Client(server.addr, timeout=RPC_TIMEOUT,
                        root_certificates=tls[0].read_bytes() if tls else None)
        info = server.wait_ready(client)
        note(f"server on {server.addr}, data in {tmp / 'data'}")
        if tls:
            with Client(server.addr, timeout=3.0) as plain:
                run.refused(grpc.StatusCode.UNAVAILABLE,
                            "TLS: a plaintext client gets no answer from the TLS port",
                            plain.server_info)
            run.check(True, "TLS: the server's certificate verifies against the CA made here")
        log_key = info.log_public_key
        run.check(len(log_key) == 32 and info.network_id == b"" and info.log_size == 0,
                  "GetServerInfo: a 32-byte log key, no network yet, an empty log")

        # Found the network: genesis names the server's log key; ana is its founder.
        g = entries.sign(entries.new_entry(
            b"", "ana", genesis=entries.genesis("Python Makers", "EUR", 2,
                                                [("ana", ana.public_key)], log_key)), ana)
        r = client.submit(g)
        check_receipt(run, "genesis", r, g, 0, log_key)
        run.check(r.root == g.leaf_hash,
                  "genesis: the root of the one-leaf log is the leaf hash computed here")
        network = g.id
        info = client.server_info()
        run.check(info.network_id == network and info.network_name == "Python Makers",
                  "GetServerInfo: the network id is the genesis id computed here")

        ana_r = Reader(ana, network)
        ben_r = Reader(ben, network)

        admit = entries.sign(entries.new_entry(
            network, "ana", admit_member=entries.admit_member("ben", ben.public_key)), ana)
        check_receipt(run, "admit ben", client.submit(admit), admit, 1, log_key)

        at = int(time.time()) - 3600
        work = entries.sign(entries.new_entry(
            network, "ben", log_contribution=entries.log_contribution(
                "work", 90, at, tags=("design",), note="enclosure CAD, from Python")), ben)
        check_receipt(run, "ben's work contribution", client.submit(work), work, 2, log_key)

        ev = entries.sign(entries.new_entry(
            network, "ana", evaluate=entries.evaluate(work.id, True, 80, "looks right")), ana)
        r_ev = client.submit(ev)
        check_receipt(run, "ana's evaluation of it", r_ev, ev, 3, log_key)

        again = client.submit(ev)
        run.check(again.duplicate and again.sequence == 3 and again.id == ev.id,
                  "resubmitting the evaluation returns its first receipt, marked duplicate")

        # Signed reads.
        sent = [g, admit, work, ev]
        listed = client.list_entries(reader=ben_r)
        run.check(len(listed) == 4, "ListEntries signed by ben: 4 entries", f"got {len(listed)}")
        for i, (le, s) in enumerate(zip(listed, sent)):
            env = le.envelope
            same = (env.payload == s.envelope.payload and env.signature == s.envelope.signature
                    and env.public_key == s.envelope.public_key
                    and env.payload_type == entries.PAYLOAD_TYPE)
            run.check(le.sequence == i and le.id == s.id and same and entries.verify_envelope(env) == s.id,
                      f"ListEntries[{i}]: the bytes signed here, its signature verifies, "
                      f"id recomputed = server's id = {s.id.hex()[:12]}")
        only = client.list_entries(reader=ana_r, member="ben",
                                   kinds=[lpb.ENTRY_KIND_LOG_CONTRIBUTION])
        run.check([e.id for e in only] == [work.id],
                  "ListEntries signed by ana, member ben, kind contribution: just ben's work")
        got = client.get_entry(id=work.id, reader=ana_r)
        run.check(got.id == work.id and got.sequence == 2
                  and got.entry.log_contribution.contribution.quantity == 90,
                  "GetEntry by id signed by ana: ben's contribution, id and sequence as receipted")
        got = client.get_entry(id=ev.id, reader=ben_r)
        run.check(got.id == ev.id and got.sequence == r_ev.sequence
                  and got.entry.evaluate.contribution_id == work.id,
                  "GetEntry by id signed by ben: ana's evaluation of his contribution")
        got = client.get_entry(sequence=0)
        run.check(got.id == network, "GetEntry of sequence 0 (the genesis) is open to anyone")

        proof = client.inclusion_proof(id=ev.id, tree_size=4, reader=ben_r)
        cp = proofs.verify_checkpoint(proof.checkpoint.note, log_key)
        root = proofs.root_from_inclusion(ev.leaf_hash, 3, 4, list(proof.hashes))
        run.check(proof.leaf_hash == ev.leaf_hash and cp.size == 4 and root == cp.root == r_ev.root,
                  "GetInclusionProof signed by ben: the evaluation's leaf hash computed here "
                  "is in the signed checkpoint of size 4")
        proof = client.inclusion_proof(id=g.id, tree_size=4, reader=ana_r)
        root = proofs.root_from_inclusion(g.leaf_hash, 0, 4, list(proof.hashes))
        run.check(root == r_ev.root, "GetInclusionProof: the genesis is in the same tree")

        # Reads the server must refuse.
        U = grpc.StatusCode.UNAUTHENTICATED
        list_req = lpb.ListEntriesRequest()
        run.refused(U, "unsigned ListEntries is refused UNAUTHENTICATED",
                    lambda: client.call("ListEntries", list_req))
        run.refused(U, "unsigned GetEntry of sequence 1 is refused UNAUTHENTICATED",
                    lambda: client.get_entry(sequence=1))
        method = "/coopledger.v1.Ledger/ListEntries"
        md = ben_r.metadata(method, list_req.SerializeToString())
        client.call("ListEntries", list_req, metadata=md)
        run.refused(U, "the same signed headers again (a replayed nonce) are refused UNAUTHENTICATED",
                    lambda: client.call("ListEntries", list_req, metadata=md))
        md = ben_r.metadata(method, lpb.ListEntriesRequest(member="ana").SerializeToString())
        run.refused(U, "headers signed over other request bytes are refused UNAUTHENTICATED",
                    lambda: client.call("ListEntries", list_req, metadata=md))
        md = ben_r.metadata("/coopledger.v1.Ledger/GetMember", list_req.SerializeToString())
        run.refused(U, "headers signed for another method are refused UNAUTHENTICATED",
                    lambda: client.call("ListEntries", list_req, metadata=md))
        md = Reader(ben, bytes(32)).metadata(method, list_req.SerializeToString())
        run.refused(U, "headers signed for another network are refused UNAUTHENTICATED",
                    lambda: client.call("ListEntries", list_req, metadata=md))
        md = ben_r.metadata(method, list_req.SerializeToString(),
                            time_ms=int(time.time() * 1000) - 11 * 60 * 1000)
        run.refused(U, "headers signed 11 minutes ago are refused UNAUTHENTICATED",
                    lambda: client.call("ListEntries", list_req, metadata=md))
        stranger = Reader(keys.Key.generate(), network)
        run.refused(U, "a read signed by a non-member's key is refused UNAUTHENTICATED",
                    lambda: client.list_entries(reader=stranger))

        # The CLI reads with the key file written here and lists the ids computed here.
        cli_help = subprocess.run([str(binary), "--help"], capture_output=True, text=True,
                                  timeout=60).stdout
        cli = [str(binary), "--home", str(home), "--as", "ben", "--json"]
        if tls and "--tls-ca" in cli_help:
            cli += ["--server", f"https://{server.addr}", "--tls-ca", str(tls[0])]
        elif not tls:
            cli += ["--server", f"http://{server.addr}"]
        else:
            cli = None
        if cli:
            out = subprocess.run(cli + ["entries"], capture_output=True, text=True, timeout=60)
            run.check(out.returncode == 0, "the coopledger CLI reads the log as ben with the key "
                      "file written here", out.stderr.strip())
            ids = re.findall(r'"id":\s*"([0-9a-f]{64})"', out.stdout)
            run.check(ids == [s.id.hex() for s in sent],
                      "the CLI lists the four ids computed here, in order", f"got {ids}")
        else:
            note("this CLI has no --tls-ca: skipped reading through the CLI")

        code = server.stop()
        run.check(code == 0, "the server stops cleanly on SIGTERM (exit 0)", f"exit {code}")
        exit_code = 0
    except Failed as e:
        print(f"FAIL  {e}", flush=True)
    except grpc.RpcError as e:
        print(f"FAIL  unexpected {e.code().name}: {e.details()}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported and fails the run
        import traceback
        traceback.print_exc()
        print(f"FAIL  {type(e).__name__}: {e}", flush=True)
    finally:
        signal.alarm(0)
        if server is not None:
            server.stop()
            if exit_code != 0:
                print("--    the server's last lines:\n" + server.tail(), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    if tls_note:
        print(f"--    {tls_note}")
    print(f"pyclient: {run.passed} passed, {0 if exit_code == 0 else 1} failed")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
