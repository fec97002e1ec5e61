// peerlab-control: runs one command line in a running peer through
// peer.v1.PeerControl, prints the lines it printed, and exits with the
// command's outcome. The token is found the way every client finds it
// (base/control_token.h): --control-token-file, else
// $PEERLAB_CONTROL_TOKEN_FILE, else the per-node file of --peer NAME.
//
//   peerlab-control --peer alice 127.0.0.1:PORT showmemberlist
//   peerlab-control 127.0.0.1:PORT -- shell -c 'echo hi'
//
// Exit codes: 0 the command succeeded, 1 it failed (its message on
// stderr), 2 usage error, 3 the call failed (refused, unreachable: the
// reason on stderr).
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "base/command_line.h"
#include "base/control_token.h"
#include "base/grpc_status.h"
#include "base/option_checks.h"
#include "base/tls.h"
#include "proto/peer/v1/control.grpc.pb.h"

int main(int argc, char** argv) {
  CLI::App cli{
      "peerlab-control: runs one command line in a running peer "
      "(peer.v1.PeerControl) and prints what it printed. The control token "
      "comes from --control-token-file, else $PEERLAB_CONTROL_TOKEN_FILE, "
      "else the token file of --peer NAME on this machine."};
  std::string address;
  std::vector<std::string> words;
  std::string token_file;
  std::string peer;
  double timeout = 30;
  peerlab::TlsOptions tls;
  cli.add_option("ADDRESS", address, "the peer's gRPC address HOST:PORT")
      ->required()
      ->check(peerlab::ConnectHostPort);
  cli.add_option("LINE", words,
                 "the command line (words are joined by spaces; put -- "
                 "before words that start with -)")
      ->required();
  cli.add_option("--control-token-file", token_file,
                 "file holding the peer's control token")
      ->check(peerlab::ReadableFile);
  cli.add_option("--peer", peer,
                 "the peer's name: use its token file on this machine")
      ->check(peerlab::MemberName);
  peerlab::AddTimeoutOption(cli, &timeout, "seconds to wait for the answer");
  peerlab::AddTlsFlags(cli, &tls);
  if (auto code = peerlab::ParseCommandLine(cli, argc, argv)) return *code;

  absl::StatusOr<peerlab::ControlToken> token =
      peerlab::FindControlToken(token_file, peer);
  if (!token.ok()) {
    std::cerr << "peerlab-control: " << token.status().message() << "\n";
    return 2;
  }
  auto credentials = peerlab::MakeChannelCredentials(tls);
  if (!credentials.ok()) {
    std::cerr << "peerlab-control: " << credentials.status().message() << "\n";
    return 2;
  }
  auto stub = ::peer::v1::PeerControl::NewStub(
      peerlab::NewChannelWithToken(address, *credentials, token->token));
  grpc::ClientContext context;
  context.set_deadline(peerlab::DeadlineIn(timeout));
  ::peer::v1::ExecuteRequest request;
  request.set_line(absl::StrJoin(words, " "));
  ::peer::v1::ExecuteResponse response;
  grpc::Status status = stub->Execute(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "peerlab-control: " << address << ": "
              << peerlab::FromGrpcStatus(status).ToString() << "\n";
    return 3;
  }
  for (const auto& line : response.output()) std::cout << line.text() << "\n";
  std::cout.flush();
  if (response.code() != 0) {
    std::cerr << "error: " << response.message() << "\n";
    return 1;
  }
  return 0;
}
