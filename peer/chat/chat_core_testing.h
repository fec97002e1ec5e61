// Test-only: chat cores on one simulated scheduler and the in-memory chat
// network (SimChatNetwork), each with a fake key pinned for its name; what
// each one's messagesView shows is kept. Used by chat_core_test and
// chat_hold_test.
#ifndef PEERLAB_PEER_CHAT_CHAT_CORE_TESTING_H_
#define PEERLAB_PEER_CHAT_CHAT_CORE_TESTING_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "peer/chat/chat_core.h"
#include "peer/chat/fake_authenticator.h"
#include "peer/chat/sim_chat_network.h"
#include "peer/runtime/scheduler.h"

namespace peerlab::chat::testing {

// One peer: a core, its transport and what its messagesView shows.
struct Node {
  std::string name;
  std::string address;
  std::unique_ptr<FakeAuthenticator> auth;
  std::unique_ptr<ChatTransport> transport;
  std::unique_ptr<ChatCore> core;
  std::vector<std::string> view;
};

// Cores on the shared in-memory chat network (SimChatNetwork, `net`), all
// on one scheduler, with a key pinned for each.
class TestNet {
 public:
  explicit TestNet(runtime::Scheduler* s) : s_(s) {}

  Node* Add(const std::string& name, ChatCore::Options o = {}) {
    return AddAt(name, absl::StrCat(name, ":1"), std::move(o));
  }
  // A node with a key pinned for `name` in keys.
  Node* AddAt(const std::string& name, const std::string& address,
              ChatCore::Options o = {}) {
    auto n = std::make_unique<Node>();
    n->name = name;
    n->address = address;
    n->transport = net.TransportFor(s_);
    keys->Pin(name, absl::StrCat(name, "-key"));
    n->auth =
        std::make_unique<FakeAuthenticator>(keys, absl::StrCat(name, "-key"));
    o.name = name;
    o.authenticator = n->auth.get();
    if (o.session.empty()) o.session = absl::StrCat(name, "-session");
    Node* raw = n.get();
    n->core = std::make_unique<ChatCore>(
        o, s_, n->transport.get(),
        [raw](const std::string& line) { raw->view.push_back(line); });
    // Delivered to whichever core the node has then (Restart).
    net.Attach(address, s_,
               [raw](const std::shared_ptr<ChatReply>& reply,
                     ::peer::v1::ChatEnvelope e) {
                 raw->core->OnIncoming(reply, std::move(e));
               });
    nodes_.push_back(std::move(n));
    return raw;
  }
  // Drops a node's core and makes a new one (a restarted process).
  Node* Restart(Node* n, const std::string& session) {
    ChatCore::Options o;
    o.name = n->name;
    o.session = session;
    o.authenticator = n->auth.get();
    n->core = std::make_unique<ChatCore>(
        o, s_, n->transport.get(),
        [n](const std::string& line) { n->view.push_back(line); });
    return n;
  }

  std::shared_ptr<FakeKeys> keys = std::make_shared<FakeKeys>();
  SimChatNetwork net;

 private:
  runtime::Scheduler* s_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace peerlab::chat::testing

#endif  // PEERLAB_PEER_CHAT_CHAT_CORE_TESTING_H_
