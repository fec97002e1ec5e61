// peerlab-health: asks a gRPC server for its health (grpc.health.v1.Health
// Check) and exits 0 when it answers SERVING. The containers' readiness and
// liveness probe (deploy/k8s/): the bootstrap server, the coordinator and
// the peer's gRPC port all serve grpc.health.v1.
//
//   peerlab-health 127.0.0.1:8080
//   peerlab-health --service harness.v1.Coordinator 127.0.0.1:8081
//   peerlab-health --tls-ca ca.crt --tls-cert c.crt --tls-key c.key \
//     --tls-server-name peer-0.peers 10.79.0.7:7947
//
// Exit codes: 0 SERVING, 1 answered but not SERVING (or the service is
// unknown), 2 usage error, 3 the call failed (unreachable, timeout: the
// reason on stderr).
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "base/command_line.h"
#include "base/option_checks.h"
#include "base/tls.h"
#include "grpcpp/grpcpp.h"
#include "proto/third_party/grpc/health/v1/health.grpc.pb.h"

int main(int argc, char** argv) {
  CLI::App cli{
      "peerlab-health: asks a gRPC server for its health "
      "(grpc.health.v1.Health/Check). Exit codes: 0 SERVING, 1 not serving "
      "or unknown service, 2 usage error, 3 the call failed."};
  std::string address;
  std::string service;
  std::string server_name;
  double timeout = 2;
  peerlab::TlsOptions tls;
  cli.add_option("ADDRESS", address, "the server's gRPC address HOST:PORT")
      ->required()
      ->check(peerlab::ConnectHostPort);
  cli.add_option("--service", service,
                 "the service to ask about (default: the whole server)")
      ->check(peerlab::NonEmpty);
  peerlab::AddTimeoutOption(cli, &timeout, "seconds to wait for the answer",
                            3600.0);
  peerlab::AddTlsFlags(cli, &tls);
  cli.add_option("--tls-server-name", server_name,
                 "with TLS: the name the server's certificate must carry "
                 "(default: ADDRESS's host), to probe a pod's own address "
                 "while its certificate names its DNS name")
      ->check(peerlab::HostName(253));
  if (auto code = peerlab::ParseCommandLine(cli, argc, argv)) return *code;

  auto credentials = peerlab::MakeChannelCredentials(tls);
  if (!credentials.ok()) {
    std::cerr << "peerlab-health: " << credentials.status().message() << "\n";
    return 2;
  }
  if (!server_name.empty() && !tls.enabled()) {
    std::cerr << "peerlab-health: --tls-server-name needs TLS (--tls-ca)\n";
    return 2;
  }
  grpc::ChannelArguments args;
  if (!server_name.empty()) {
    args.SetSslTargetNameOverride(server_name);
  }
  auto channel = grpc::CreateCustomChannel(address, *credentials, args);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(peerlab::DeadlineIn(timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "peerlab-health: " << address << ": " << status.error_message()
              << "\n";
    return status.error_code() == grpc::StatusCode::NOT_FOUND ? 1 : 3;
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    std::cerr << "peerlab-health: " << address << ": "
              << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                     response.status())
              << "\n";
    return 1;
  }
  return 0;
}
