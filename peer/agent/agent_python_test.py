#!/usr/bin/python3
"""Cross-language test: a Python client calls every RPC of peer.v1.Agent.

Runs with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf) and
stubs made by `protoc --python_out --grpc_python_out` at build time. Starts
a peerlab-bootstrap and two peers (alice, bob) itself on free loopback
ports, with a control token file of its own.

Usage: agent_python_test.py [--bin-dir DIR] --stubs DIR
  --bin-dir  directory of peerlab-peer and peerlab-bootstrap (default:
             $PEERLAB_BIN_DIR)
  --stubs    directory of the generated *_pb2.py files

Ends with a summary line and exits non-zero on any failure, so ctest
reports it.
"""

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ARGS = None  # parsed command line, set in main()

# Filled by load_stubs() once --stubs is known.
grpc = None
pb = None
pb_grpc = None

TOKEN = "py-agent-control-token-0123456789"
TIMEOUT = 10  # seconds per call
DEADLINE = 30  # seconds for the cluster to form


def load_stubs(stubs_dir):
    global grpc, pb, pb_grpc
    sys.path.insert(0, stubs_dir)
    import grpc as grpc_module
    from peer.v1 import agent_pb2, agent_pb2_grpc
    grpc = grpc_module
    pb, pb_grpc = agent_pb2, agent_pb2_grpc


def wait_for_line(path, process, what, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("%s exited with %d before serving" %
                               (what, process.returncode))
        try:
            with open(path) as f:
                text = f.read()
            if text.endswith("\n"):
                return text.strip()
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    process.kill()
    raise RuntimeError("%s not ready after %d s" % (what, timeout))


class Process:
    """A child started with a ready file; stop() ends it with SIGTERM."""

    def __init__(self, workdir, name, argv, env=None):
        self.name = name
        ready = os.path.join(workdir, name + ".ready")
        self.log = open(os.path.join(workdir, name + ".stderr"), "wb")
        self.process = subprocess.Popen(
            argv + ["--ready-file", ready], stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, stderr=self.log, env=env)
        self.address = wait_for_line(ready, self.process, name)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log.close()


class AgentPythonTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="agent-py-")
        token_file = os.path.join(cls.workdir, "control.token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600),
                  "w") as f:
            f.write(TOKEN + "\n")
        env = dict(os.environ, HOME=cls.workdir,
                   PEERLAB_CONTROL_TOKEN_FILE=token_file)
        env.pop("PEERLAB_STATE_DIR", None)
        env.pop("XDG_STATE_HOME", None)
        cls.processes = []
        cls.bootstrap = Process(
            cls.workdir, "bootstrap",
            [os.path.join(ARGS.bin_dir, "peerlab-bootstrap"), "--listen",
             "127.0.0.1:0", "--store", "memory:", "--log-level", "warn"],
            env)
        cls.processes.append(cls.bootstrap)
        cls.peers = {}
        for name in ("alice", "bob"):
            peer = Process(
                cls.workdir, name,
                [os.path.join(ARGS.bin_dir, "peerlab-peer"), name, "--serve",
                 "--bootstrap", cls.bootstrap.address, "--log-file",
                 os.path.join(cls.workdir, name + ".log")], env)
            cls.processes.append(peer)
            cls.peers[name] = peer
        cls.channels = {
            name: grpc.insecure_channel(p.address)
            for name, p in cls.peers.items()
        }
        cls.stubs = {
            name: pb_grpc.AgentStub(ch) for name, ch in cls.channels.items()
        }
        cls.auth = [("authorization", "Bearer " + TOKEN)]
        # Both see each other.
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                r = cls.stubs["alice"].Members(
                    pb.AgentMembersRequest(statuses=[pb.AgentMember.ALIVE]),
                    metadata=cls.auth, timeout=TIMEOUT)
                if len(r.members) == 2:
                    break
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("alice and bob did not see each other")
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        for ch in cls.channels.values():
            ch.close()
        codes = [p.stop() for p in reversed(cls.processes)]
        shutil.rmtree(cls.workdir, ignore_errors=True)
        if any(codes):
            raise AssertionError("exit codes on SIGTERM: %s" % codes)

    def call(self, peer, method, request):
        return getattr(self.stubs[peer], method)(request, metadata=self.auth,
                                                 timeout=TIMEOUT)

    def assertCode(self, code, fn, *args):
        with self.assertRaises(grpc.RpcError) as caught:
            fn(*args)
        self.assertEqual(caught.exception.code(), code,
                         caught.exception.details())
        return caught.exception.details()

    def test_a_call_without_the_token_is_unauthenticated(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stubs["alice"].Members(pb.AgentMembersRequest(),
                                        timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(),
                         grpc.StatusCode.UNAUTHENTICATED)

    def test_members_with_filters(self):
        r = self.call("alice", "Members", pb.AgentMembersRequest())
        self.assertEqual([m.name for m in r.members], ["alice", "bob"])
        for m in r.members:
            self.assertEqual(m.status, pb.AgentMember.ALIVE)
            self.assertIn(":", m.address)
            self.assertGreater(m.generation, 0)
        r = self.call("alice", "Members", pb.AgentMembersRequest(name="b.*"))
        self.assertEqual([m.name for m in r.members], ["bob"])
        details = self.assertCode(
            grpc.StatusCode.INVALID_ARGUMENT, self.call, "alice", "Members",
            pb.AgentMembersRequest(tags={"role": "("}))
        self.assertIn("tags[role]", details)

    def test_tags_set_read_remove_and_the_size_limit(self):
        # The peer's own metadata fields (the chat address) are not tags.
        self.assertNotIn("chat", self.call("bob", "Tags",
                                           pb.AgentTagsRequest()).tags)
        r = self.call("bob", "Tags", pb.AgentTagsRequest(set={"lang": "py"}))
        self.assertEqual(r.tags["lang"], "py")
        self.assertNotIn("chat", r.tags)
        self.assertEqual(self.call("bob", "Tags", pb.AgentTagsRequest())
                         .tags["lang"], "py")
        r = self.call("bob", "Tags", pb.AgentTagsRequest(remove=["lang"]))
        self.assertNotIn("lang", r.tags)
        # Removing a tag that is not set is no error (agent.proto).
        self.call("bob", "Tags", pb.AgentTagsRequest(remove=["never-set"]))
        details = self.assertCode(
            grpc.StatusCode.INVALID_ARGUMENT, self.call, "bob", "Tags",
            pb.AgentTagsRequest(set={"big": "x" * 600}))
        self.assertIn("memberlist.max_meta_bytes", details)

    def test_stream_sees_another_members_tag_change(self):
        stream = self.stubs["alice"].Stream(
            pb.AgentStreamRequest(filters=["member-update"]),
            metadata=self.auth, timeout=DEADLINE)
        events = queue.Queue()

        def read():
            try:
                for event in stream:
                    events.put(event)
            except grpc.RpcError:
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + DEADLINE
        seen = False
        n = 0
        # The stream may open after the first change: change until seen.
        while not seen and time.monotonic() < deadline:
            n += 1
            self.call("bob", "Tags", pb.AgentTagsRequest(set={"n": str(n)}))
            try:
                while True:
                    e = events.get(timeout=0.5)
                    if (e.HasField("member") and
                            e.member.member.name == "bob" and
                            "n" in e.member.member.tags):
                        seen = True
                        break
            except queue.Empty:
                pass
        stream.cancel()
        reader.join(5)
        self.assertTrue(seen)

    def test_stream_refuses_an_unknown_filter(self):
        stream = self.stubs["alice"].Stream(
            pb.AgentStreamRequest(filters=["log"], log_level="loud"),
            metadata=self.auth, timeout=TIMEOUT)
        with self.assertRaises(grpc.RpcError) as caught:
            next(stream)
        self.assertEqual(caught.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT)

    def test_event(self):
        r = self.call("alice", "Event",
                      pb.AgentEventRequest(name="deploy", payload=b"v1"))
        self.assertGreater(r.ltime, 0)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.call, "alice",
                        "Event", pb.AgentEventRequest(name=""))

    def test_query_streams_each_answer_as_it_comes(self):
        # A minute-long query: both acks are read long before its end,
        # then the call is cancelled (the query ends with it).
        stream = self.stubs["alice"].Query(
            pb.AgentQueryRequest(name="ping", request_ack=True,
                                 timeout={"seconds": 60}),
            metadata=self.auth, timeout=TIMEOUT)
        acks = []
        for item in stream:
            self.assertFalse(item.HasField("summary"), item)
            acks.append(getattr(item.ack, "from"))
            if len(acks) == 2:
                break
        stream.cancel()
        self.assertEqual(sorted(acks), ["alice", "bob"])
        # A short one: the answers first, then one summary, last.
        items = list(self.stubs["alice"].Query(
            pb.AgentQueryRequest(name="ping", request_ack=True,
                                 timeout={"seconds": 1}),
            metadata=self.auth, timeout=TIMEOUT))
        self.assertEqual([i.HasField("summary") for i in items],
                         [False, False, True], items)
        self.assertEqual(items[-1].summary.matched, 2)
        self.assertEqual(items[-1].summary.acked, 2, items)
        # A query the peer refuses ends the call with its status.
        with self.assertRaises(grpc.RpcError) as caught:
            list(self.stubs["alice"].Query(
                pb.AgentQueryRequest(name="ping", tags={"role": "("}),
                metadata=self.auth, timeout=TIMEOUT))
        self.assertEqual(caught.exception.code(),
                         grpc.StatusCode.INVALID_ARGUMENT,
                         caught.exception.details())

    def test_force_leave(self):
        # Nobody of that name: refused; a live member: refused, never evicted.
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.call, "alice",
                        "ForceLeave", pb.AgentForceLeaveRequest(name="nobody"))

    def test_stats(self):
        r = self.call("alice", "Stats", pb.AgentStatsRequest())
        self.assertEqual(r.self.name, "alice")
        names = [s.name for s in r.stats]
        self.assertEqual(names, sorted(names))
        self.assertIn("memberlist.health.score", names)

    def test_coordinate(self):
        # NOT_FOUND until alice has probed bob (its ack brings bob's
        # coordinate): poll with a deadline.
        deadline = time.monotonic() + 20
        while True:
            try:
                r = self.call("alice", "Coordinate",
                              pb.AgentCoordinateRequest(nodes=["bob"]))
                self.assertTrue(r.HasField("rtt"))
                self.assertEqual([c.node for c in r.coordinates], ["bob"])
                self.assertEqual(len(r.coordinates[0].vec), 8)
                break
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.call, "alice",
                        "Coordinate",
                        pb.AgentCoordinateRequest(nodes=["a", "b", "c"]))

    def test_keys(self):
        r = self.call("bob", "Keys",
                      pb.AgentKeysRequest(op=pb.AgentKeysRequest.LIST))
        self.assertEqual((r.members, r.acks), (2, 2))
        self.assertEqual(list(r.keys.values()), [2])
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.call, "bob",
                        "Keys",
                        pb.AgentKeysRequest(op=pb.AgentKeysRequest.INSTALL,
                                            key="not base64!"))


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
    print("agent_python_test: %d tests, %d failures, %d errors: %s" %
          (result.testsRun, len(result.failures), len(result.errors),
           "PASSED" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
