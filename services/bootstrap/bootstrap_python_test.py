#!/usr/bin/python3
"""Cross-language test: a Python client calls every RPC of peerlab-bootstrap.

Runs with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf) and
stubs made by `protoc --python_out --grpc_python_out` at build time. Starts
the real server itself on a free loopback port (port 0 and --ready-file).

Usage: bootstrap_python_test.py [--bin-dir DIR] [--stubs DIR]
  --bin-dir  directory of peerlab-bootstrap (default: $PEERLAB_BIN_DIR)
  --stubs    directory of the generated *_pb2.py files

Ends with a summary line ("OK" or "FAILED (...)") and exits non-zero on any
failure, so ctest reports it.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

ARGS = None  # parsed command line, set in main()

# Filled by load_stubs() once --stubs is known.
grpc = None
pb = None
pb_grpc = None
health_pb = None
health_grpc = None
refl_pb = None
refl_grpc = None

TOKEN = "py-admin-token"
TIMEOUT = 10  # seconds per call


def load_stubs(stubs_dir):
    global grpc, pb, pb_grpc, health_pb, health_grpc, refl_pb, refl_grpc
    sys.path.insert(0, stubs_dir)
    import grpc as grpc_module
    from bootstrap.v1 import bootstrap_pb2, bootstrap_pb2_grpc
    from third_party.grpc.health.v1 import health_pb2, health_pb2_grpc
    from third_party.grpc.reflection.v1alpha import (reflection_pb2,
                                                     reflection_pb2_grpc)
    grpc = grpc_module
    pb, pb_grpc = bootstrap_pb2, bootstrap_pb2_grpc
    health_pb, health_grpc = health_pb2, health_pb2_grpc
    refl_pb, refl_grpc = reflection_pb2, reflection_pb2_grpc


class Server:
    """peerlab-bootstrap on 127.0.0.1:0 with a file store in a temp dir."""

    def __init__(self, workdir, extra_args=()):
        self.ready = os.path.join(workdir, "ready")
        self.log = open(os.path.join(workdir, "server.stderr"), "wb")
        argv = [os.path.join(ARGS.bin_dir, "peerlab-bootstrap"),
                "--listen", "127.0.0.1:0", "--ready-file", self.ready,
                "--store", "file:" + os.path.join(workdir, "store.json"),
                "--log-level", "warn"] + list(extra_args)
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        deadline = time.monotonic() + 15
        self.address = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited with %d before serving" %
                                   self.process.returncode)
            try:
                with open(self.ready) as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.address = text.strip()
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        if self.address is None:
            self.process.kill()
            raise RuntimeError("server not ready after 15 s")

    def stop(self):
        """SIGTERM; returns the exit code (waits at most 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log.close()


def make_peer(name, started_at=None, port=7946):
    peer = pb.Peer(id=str(uuid.uuid4()), name=name, host="127.0.0.1",
                   port=port, protocol=pb.PROTOCOL_TCP)
    if started_at is not None:
        peer.started_at.seconds = started_at
    return peer


class JoinFloodTest(unittest.TestCase):
    """Its own server: the flood must not starve the other tests."""

    def test_join_flood_is_rate_limited(self):
        workdir = tempfile.mkdtemp(prefix="bootstrap-py-flood-")
        # A small limit, so that slow disks (each join is fsynced) cannot
        # refill the bucket during the flood.
        server = Server(workdir, ["--max-peers", "3", "--join-rate", "1",
                                  "--join-burst", "20"])
        try:
            with grpc.insecure_channel(server.address) as channel:
                stub = pb_grpc.BootstrapDataStub(channel)
                refused = 0
                details = ""
                for i in range(200):
                    try:
                        stub.Join(pb.JoinRequest(peer=make_peer("f%d" % i)),
                                  timeout=TIMEOUT)
                    except grpc.RpcError as e:
                        self.assertEqual(e.code(),
                                         grpc.StatusCode.RESOURCE_EXHAUSTED,
                                         e.details())
                        refused += 1
                        details = e.details()
                self.assertGreaterEqual(refused, 150)
                self.assertIn("retry in", details)
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(workdir, ignore_errors=True)


class LeaseTest(unittest.TestCase):
    """Its own server, with a 1 s default lease."""

    def test_an_unrenewed_join_frees_its_slot(self):
        workdir = tempfile.mkdtemp(prefix="bootstrap-py-lease-")
        server = Server(workdir, ["--max-peers", "1", "--default-lease", "1",
                                  "--max-lease", "2"])
        try:
            with grpc.insecure_channel(server.address) as channel:
                stub = pb_grpc.BootstrapDataStub(channel)
                first = stub.Join(pb.JoinRequest(peer=make_peer("squat")),
                                  timeout=TIMEOUT)
                self.assertTrue(first.joined)
                self.assertEqual(first.lease.seconds, 1)
                late = make_peer("late")
                self.assertFalse(stub.Join(pb.JoinRequest(peer=late),
                                           timeout=TIMEOUT).joined)
                long = stub.Renew(pb.RenewRequest(
                    id=first.document.peers[0].id, ttl={"seconds": 3600},
                    secret=first.secret), timeout=TIMEOUT)
                self.assertEqual(long.lease.seconds, 2)  # --max-lease
                deadline = time.time() + 10
                while stub.List(pb.ListRequest(),
                                timeout=TIMEOUT).document.peers:
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.05)
                self.assertTrue(stub.Join(pb.JoinRequest(peer=late),
                                          timeout=TIMEOUT).joined)
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(workdir, ignore_errors=True)


class BootstrapPythonTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="bootstrap-py-")
        token_file = os.path.join(cls.workdir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.server = Server(cls.workdir,
                            ["--admin-token-file", token_file,
                             "--max-peers", "3"])
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.stub = pb_grpc.BootstrapDataStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        code = cls.server.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)
        if code != 0:
            raise AssertionError("server exited with %d on SIGTERM" % code)

    def setUp(self):
        # Every test starts from an empty list and max_peers 3.
        self.admin(self.stub.Reset, pb.ResetRequest())
        self.admin(self.stub.UpdateConfig,
                   pb.UpdateConfigRequest(max_peers=3,
                                          min_refill_candidates=0))

    def admin(self, method, request):
        return method(request, timeout=TIMEOUT,
                      metadata=[("authorization", "Bearer " + TOKEN)])

    def revision(self):
        return self.stub.List(pb.ListRequest(), timeout=TIMEOUT) \
            .document.revision

    def assert_code(self, code, call, *args, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        with self.assertRaises(grpc.RpcError) as ctx:
            call(*args, **kwargs)
        self.assertEqual(ctx.exception.code(), code,
                         ctx.exception.details())
        return ctx.exception.details()

    def test_ping(self):
        r = self.stub.Ping(pb.PingRequest(), timeout=TIMEOUT)
        self.assertEqual(r.message, "OK")
        self.assertTrue(r.server_version)
        self.assertLess(abs(r.server_time.seconds - time.time()), 60)

    def test_join_leave_list(self):
        before = self.revision()
        peer = make_peer("py-a")
        r = self.stub.Join(pb.JoinRequest(peer=peer), timeout=TIMEOUT)
        self.assertTrue(r.joined)
        self.assertEqual(r.document.revision, before + 1)
        self.assertEqual([p.id for p in r.document.peers], [peer.id])
        stored = r.document.peers[0]
        self.assertEqual(stored.name, "py-a")
        self.assertEqual(stored.protocol, pb.PROTOCOL_TCP)
        self.assertTrue(stored.HasField("started_at"))  # set by the server
        # No ttl asked for: the server's default lease (60 s).
        self.assertTrue(stored.HasField("lease_expires_at"))
        self.assertEqual(r.lease.seconds, 60)

        doc = self.stub.List(pb.ListRequest(), timeout=TIMEOUT).document
        self.assertEqual(doc, r.document)

        secret = r.secret
        r = self.stub.Leave(pb.LeaveRequest(id=peer.id, secret=secret),
                            timeout=TIMEOUT)
        self.assertTrue(r.removed)
        self.assertEqual(len(r.document.peers), 0)
        self.assertEqual(r.document.revision, before + 2)
        r = self.stub.Leave(pb.LeaveRequest(id=peer.id), timeout=TIMEOUT)
        self.assertFalse(r.removed)
        self.assertEqual(r.document.revision, before + 2)  # no change

    def test_join_with_ttl_and_renew(self):
        peer = make_peer("py-lease")
        r = self.stub.Join(pb.JoinRequest(peer=peer, ttl={"seconds": 60}),
                           timeout=TIMEOUT)
        self.assertTrue(r.joined)
        lease = r.document.peers[0].lease_expires_at.seconds
        self.assertAlmostEqual(lease, time.time() + 60, delta=10)

        r = self.stub.Renew(pb.RenewRequest(id=peer.id, secret=r.secret,
                                            ttl={"seconds": 3600}),
                            timeout=TIMEOUT)
        self.assertEqual(r.peer.id, peer.id)
        self.assertAlmostEqual(r.peer.lease_expires_at.seconds,
                               time.time() + 3600, delta=10)

        details = self.assert_code(
            grpc.StatusCode.NOT_FOUND, self.stub.Renew,
            pb.RenewRequest(id=str(uuid.uuid4()), ttl={"seconds": 60}))
        self.assertTrue(details)
        before = self.revision()
        self.assert_code(grpc.StatusCode.INVALID_ARGUMENT, self.stub.Renew,
                         pb.RenewRequest(id=peer.id))  # ttl is required
        self.assert_code(grpc.StatusCode.PERMISSION_DENIED, self.stub.Renew,
                         pb.RenewRequest(id=peer.id, ttl={"seconds": 60}))
        self.assertEqual(self.revision(), before)

    def test_full_list_refuses_join(self):
        for i in range(3):
            self.assertTrue(self.stub.Join(
                pb.JoinRequest(peer=make_peer("p%d" % i)),
                timeout=TIMEOUT).joined)
        before = self.revision()
        r = self.stub.Join(pb.JoinRequest(peer=make_peer("late")),
                           timeout=TIMEOUT)
        self.assertFalse(r.joined)
        self.assertEqual(r.document.revision, before)
        self.assertEqual(len(r.document.peers), 3)

    def test_refill_takes_room_only(self):
        old, mid, new = (make_peer("old", 1000), make_peer("mid", 2000),
                         make_peer("new", 3000))
        # Room in the list: accepted without replacing anyone.
        for p in (old, mid, new):
            r = self.stub.Refill(pb.RefillRequest(candidate=p),
                                 timeout=TIMEOUT)
            self.assertTrue(r.accepted)
            self.assertEqual(r.replaced_id, "")
        ids = [p.id for p in r.document.peers]
        self.assertEqual(ids, [old.id, mid.id, new.id])  # oldest first

        # Already stored: not accepted, nothing changes.
        before = self.revision()
        r = self.stub.Refill(pb.RefillRequest(candidate=mid), timeout=TIMEOUT)
        self.assertFalse(r.accepted)
        self.assertEqual(r.document.revision, before)

        # Full; the candidate is the newest of all: it does not get in.
        newer = make_peer("newer", 4000)
        r = self.stub.Refill(pb.RefillRequest(candidate=newer),
                             timeout=TIMEOUT)
        self.assertFalse(r.accepted)
        self.assertEqual(r.document.revision, before)

        # Full; a candidate claiming an older start than the newest stored
        # one: the server first saw it now, so it is the newest and does
        # not get in (issue 13: old timestamps buy no place).
        older = make_peer("older", 1500)
        r = self.stub.Refill(pb.RefillRequest(candidate=older,
                                              ttl={"seconds": 120}),
                             timeout=TIMEOUT)
        self.assertFalse(r.accepted)
        self.assertEqual(r.document.revision, before)

    def test_update_config_trims_keeping_longest_lived(self):
        peers = [make_peer("t%d" % i, 1000 * (i + 1)) for i in range(3)]
        for p in peers:
            self.stub.Join(pb.JoinRequest(peer=p), timeout=TIMEOUT)
        r = self.admin(self.stub.UpdateConfig,
                       pb.UpdateConfigRequest(max_peers=1,
                                              min_refill_candidates=5))
        self.assertEqual(sorted(r.trimmed_ids),
                         sorted([peers[1].id, peers[2].id]))
        self.assertEqual([p.id for p in r.document.peers], [peers[0].id])
        self.assertEqual(r.document.config.max_peers, 1)
        self.assertEqual(r.document.config.min_refill_candidates, 5)
        # Unset fields keep their value.
        r = self.admin(self.stub.UpdateConfig,
                       pb.UpdateConfigRequest(max_peers=2))
        self.assertEqual(r.document.config.min_refill_candidates, 5)

    def test_reset(self):
        self.stub.Join(pb.JoinRequest(peer=make_peer("r")), timeout=TIMEOUT)
        before = self.revision()
        r = self.admin(self.stub.Reset, pb.ResetRequest())
        self.assertEqual(len(r.document.peers), 0)
        self.assertEqual(r.document.revision, before + 1)
        self.assertEqual(r.document.config.max_peers, 3)  # config kept

    def test_admin_calls_need_the_token(self):
        self.stub.Join(pb.JoinRequest(peer=make_peer("keep")),
                       timeout=TIMEOUT)
        before = self.stub.List(pb.ListRequest(), timeout=TIMEOUT).document
        self.assert_code(grpc.StatusCode.PERMISSION_DENIED, self.stub.Reset,
                         pb.ResetRequest())
        self.assert_code(grpc.StatusCode.PERMISSION_DENIED, self.stub.Reset,
                         pb.ResetRequest(),
                         metadata=[("authorization", "Bearer wrong")])
        self.assert_code(grpc.StatusCode.PERMISSION_DENIED,
                         self.stub.UpdateConfig,
                         pb.UpdateConfigRequest(max_peers=1))
        after = self.stub.List(pb.ListRequest(), timeout=TIMEOUT).document
        self.assertEqual(after, before)

    def test_invalid_arguments_name_the_field(self):
        before = self.revision()
        cases = [
            ("peer.id", dict(id="nope")),
            ("peer.name", dict(name="")),
            ("peer.name", dict(name="x" * 129)),
            ("peer.host", dict(host="bad host!")),
            ("peer.port", dict(port=0)),
            ("peer.port", dict(port=70000)),
            ("peer.protocol", dict(protocol=pb.PROTOCOL_UNSPECIFIED)),
        ]
        for field, change in cases:
            with self.subTest(field=field, change=change):
                peer = make_peer("valid")
                for k, v in change.items():
                    setattr(peer, k, v)
                details = self.assert_code(grpc.StatusCode.INVALID_ARGUMENT,
                                           self.stub.Join,
                                           pb.JoinRequest(peer=peer))
                self.assertIn(field, details)
        details = self.assert_code(grpc.StatusCode.INVALID_ARGUMENT,
                                   self.stub.Leave, pb.LeaveRequest(id="42"))
        self.assertIn("id", details)
        details = self.assert_code(
            grpc.StatusCode.INVALID_ARGUMENT, self.stub.Join,
            pb.JoinRequest(peer=make_peer("ttl"), ttl={"seconds": -5}))
        self.assertIn("ttl", details)
        details = self.assert_code(
            grpc.StatusCode.INVALID_ARGUMENT, self.stub.UpdateConfig,
            pb.UpdateConfigRequest(max_peers=0),
            metadata=[("authorization", "Bearer " + TOKEN)])
        self.assertIn("max_peers", details)
        self.assertEqual(self.revision(), before)

    def test_watch_first_two_documents(self):
        call = self.stub.Watch(pb.WatchRequest(), timeout=TIMEOUT)
        try:
            first = next(call).document
            peer = make_peer("watched")
            r = self.stub.Join(pb.JoinRequest(peer=peer), timeout=TIMEOUT)
            second = next(call).document
        finally:
            call.cancel()
        self.assertEqual(second.revision, first.revision + 1)
        self.assertEqual(second, r.document)
        self.assertIn(peer.id, [p.id for p in second.peers])

    def test_reflection_lists_the_service(self):
        stub = refl_grpc.ServerReflectionStub(self.channel)
        request = refl_pb.ServerReflectionRequest(list_services="")
        responses = list(stub.ServerReflectionInfo(iter([request]),
                                                   timeout=TIMEOUT))
        self.assertEqual(len(responses), 1)
        names = [s.name for s in
                 responses[0].list_services_response.service]
        self.assertIn("bootstrap.v1.BootstrapData", names)
        self.assertIn("grpc.health.v1.Health", names)

    # Issue 13: the attacks on the list, from a second client.

    def test_another_client_cannot_rewrite_or_remove_an_entry(self):
        peer = make_peer("owned")
        joined = self.stub.Join(pb.JoinRequest(peer=peer), timeout=TIMEOUT)
        self.assertTrue(joined.joined)
        with grpc.insecure_channel(self.server.address) as other_channel:
            other = pb_grpc.BootstrapDataStub(other_channel)
            listed = other.List(pb.ListRequest(), timeout=TIMEOUT).document
            self.assertIn(peer.id, [p.id for p in listed.peers])  # public
            hijack = pb.Peer()
            hijack.CopyFrom(peer)
            hijack.host = "10.6.6.6"
            self.assert_code(grpc.StatusCode.PERMISSION_DENIED, other.Join,
                             pb.JoinRequest(peer=hijack))
            self.assert_code(grpc.StatusCode.PERMISSION_DENIED, other.Leave,
                             pb.LeaveRequest(id=peer.id))
            self.assert_code(grpc.StatusCode.PERMISSION_DENIED, other.Renew,
                             pb.RenewRequest(id=peer.id,
                                             ttl={"seconds": 60}))
        doc = self.stub.List(pb.ListRequest(), timeout=TIMEOUT).document
        self.assertEqual([(p.id, p.host) for p in doc.peers],
                         [(peer.id, "127.0.0.1")])
        # The owner, with the secret Join returned.
        self.assertGreaterEqual(len(joined.secret), 32)
        r = self.stub.Leave(pb.LeaveRequest(id=peer.id,
                                            secret=joined.secret),
                            timeout=TIMEOUT)
        self.assertTrue(r.removed)

    def test_start_times_in_year_one_cannot_take_the_slots(self):
        honest = [make_peer("honest%d" % i) for i in range(3)]
        for p in honest:
            self.assertTrue(self.stub.Join(pb.JoinRequest(peer=p),
                                           timeout=TIMEOUT).joined)
        year_one = -62135596800  # 0001-01-01T00:00:00Z
        for i in range(3):
            try:
                r = self.stub.Refill(pb.RefillRequest(
                    candidate=make_peer("squat%d" % i, year_one)),
                    timeout=TIMEOUT)
                self.assertFalse(r.accepted)
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.PERMISSION_DENIED)
        doc = self.stub.List(pb.ListRequest(), timeout=TIMEOUT).document
        self.assertEqual([p.name for p in doc.peers],
                         ["honest0", "honest1", "honest2"])
        # Nor into an empty list: the claim counts as the first sight.
        self.admin(self.stub.Reset, pb.ResetRequest())
        r = self.stub.Join(pb.JoinRequest(peer=make_peer("squat", year_one)),
                           timeout=TIMEOUT)
        stored = r.document.peers[0]
        self.assertEqual(stored.started_at, stored.first_seen_at)
        self.assertAlmostEqual(stored.started_at.seconds, time.time(),
                               delta=60)

    def test_start_time_in_the_future_is_refused(self):
        details = self.assert_code(
            grpc.StatusCode.INVALID_ARGUMENT, self.stub.Join,
            pb.JoinRequest(peer=make_peer("future",
                                          int(time.time()) + 86400)))
        self.assertIn("peer.started_at", details)

    def test_client_chosen_secret(self):
        secret = "s" * 40
        peer = make_peer("chosen")
        r = self.stub.Join(pb.JoinRequest(peer=peer, secret=secret),
                           timeout=TIMEOUT)
        self.assertEqual(r.secret, secret)
        self.assertEqual(r.document.peers[0].owner_secret_sha256, b"")
        r = self.stub.Renew(pb.RenewRequest(id=peer.id, secret=secret,
                                            ttl={"seconds": 60}),
                            timeout=TIMEOUT)
        self.assertEqual(r.peer.id, peer.id)
        self.assert_code(grpc.StatusCode.INVALID_ARGUMENT, self.stub.Join,
                         pb.JoinRequest(peer=make_peer("weak"),
                                        secret="short"))

    def test_health_serving(self):
        stub = health_grpc.HealthStub(self.channel)
        for service in ("", "bootstrap.v1.BootstrapData"):
            r = stub.Check(health_pb.HealthCheckRequest(service=service),
                           timeout=TIMEOUT)
            self.assertEqual(r.status,
                             health_pb.HealthCheckResponse.SERVING, service)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", default=os.environ.get("PEERLAB_BIN_DIR"))
    parser.add_argument("--stubs", required=True)
    ARGS, rest = parser.parse_known_args()
    if not ARGS.bin_dir:
        parser.error("--bin-dir or PEERLAB_BIN_DIR is required")
    load_stubs(ARGS.stubs)
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False,
                            verbosity=2)
    result = program.result
    ok = result.wasSuccessful()
    print("bootstrap_python_test: %d tests, %d failures, %d errors: %s" %
          (result.testsRun, len(result.failures), len(result.errors),
           "PASSED" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
