#include "peer/membership/delegate_mux.h"

#include "absl/strings/str_cat.h"

namespace peerlab::membership {
namespace {

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint at `pos` (advanced); false when truncated or longer than
// 10 bytes.
bool ReadVarint(absl::string_view in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(in[pos++]);
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

absl::Status DelegateMux::Register(uint8_t channel, Delegate* component) {
  if (component == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel ", int{channel}, ": no component"));
  }
  if (channels_[channel] != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("channel ", int{channel}, " is taken"));
  }
  channels_[channel] = component;
  return absl::OkStatus();
}

void DelegateMux::Unregister(uint8_t channel) { channels_[channel] = nullptr; }

BroadcastFn DelegateMux::SenderFor(uint8_t channel) {
  return [this, channel](std::string payload, const std::string& key) {
    broadcast_(EncodePayload(channel, payload),
               key.empty() ? key : absl::StrCat(int{channel}, ":", key));
  };
}

std::string DelegateMux::EncodePayload(uint8_t channel,
                                       absl::string_view body) {
  std::string out;
  out.reserve(body.size() + 1);
  out.push_back(static_cast<char>(channel));
  out.append(body.data(), body.size());
  return out;
}

absl::StatusOr<std::pair<uint8_t, absl::string_view>>
DelegateMux::DecodePayload(absl::string_view payload) {
  if (payload.empty()) {
    return absl::InvalidArgumentError("empty user payload: no channel byte");
  }
  return std::make_pair(static_cast<uint8_t>(payload[0]), payload.substr(1));
}

std::string DelegateMux::EncodeState(
    const std::map<uint8_t, std::string>& slices) {
  std::string out;
  for (const auto& [channel, slice] : slices) {
    if (slice.empty()) continue;
    out.push_back(static_cast<char>(channel));
    AppendVarint(out, slice.size());
    out += slice;
  }
  return out;
}

absl::StatusOr<std::map<uint8_t, std::string>> DelegateMux::DecodeState(
    absl::string_view state) {
  std::map<uint8_t, std::string> out;
  size_t pos = 0;
  while (pos < state.size()) {
    const size_t at = pos;
    const auto channel = static_cast<uint8_t>(state[pos++]);
    uint64_t len = 0;
    if (!ReadVarint(state, pos, len)) {
      return absl::InvalidArgumentError(
          absl::StrCat("user state: truncated length at offset ", at));
    }
    if (len > kMaxMuxStateSliceBytes || len > state.size() - pos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user state: slice of channel ", int{channel}, " at offset ", at,
          " claims ", len, " bytes, ", state.size() - pos, " left (at most ",
          kMaxMuxStateSliceBytes, ")"));
    }
    if (out.size() >= kMaxMuxStates) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user state: more than ", kMaxMuxStates, " slices at offset ", at));
    }
    if (!out.emplace(channel, std::string(state.substr(pos, len))).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user state: channel ", int{channel}, " repeats at offset ", at));
    }
    pos += len;
  }
  return out;
}

void DelegateMux::LogDrop(uint64_t count, const std::string& what) const {
  if (count % 1000 == 1) log_.Warn(what, " (", count, " so far)");
}

void DelegateMux::OnUserMessage(const std::string& payload) {
  auto decoded = DecodePayload(payload);
  if (!decoded.ok()) {
    LogDrop(++stats_.empty_payloads,
            "dropped a user broadcast without a channel byte");
    return;
  }
  Delegate* to = Route(decoded->first);
  if (to == nullptr) {
    LogDrop(
        ++stats_.unknown_channel,
        absl::StrCat("dropped a user broadcast for channel ",
                     int{decoded->first}, ", which nobody here listens on"));
    return;
  }
  ++stats_.delivered;
  to->OnUserMessage(std::string(decoded->second));
}

std::string DelegateMux::LocalState(bool join) {
  std::map<uint8_t, std::string> slices;
  for (int ch = 0; ch < 256; ++ch) {
    if (channels_[ch] == nullptr) continue;
    std::string slice = channels_[ch]->LocalState(join);
    if (slice.size() > kMaxMuxStateSliceBytes) {
      LogDrop(++stats_.local_slices_dropped,
              absl::StrCat("left out channel ", ch, "'s push/pull state of ",
                           slice.size(), " bytes (at most ",
                           kMaxMuxStateSliceBytes, ")"));
      continue;
    }
    slices[static_cast<uint8_t>(ch)] = std::move(slice);
  }
  return EncodeState(slices);
}

void DelegateMux::MergeRemoteState(const std::string& state, bool join) {
  auto slices = DecodeState(state);
  if (!slices.ok()) {
    LogDrop(++stats_.bad_states,
            absl::StrCat("dropped a push/pull user state: ",
                         slices.status().message()));
    return;
  }
  for (auto& [channel, slice] : *slices) {
    Delegate* to = Route(channel);
    if (to == nullptr) {
      LogDrop(++stats_.unknown_state_slices,
              absl::StrCat("dropped push/pull state for channel ", int{channel},
                           ", which nobody here listens on"));
      continue;
    }
    to->MergeRemoteState(slice, join);
  }
}

absl::Status DelegateMux::OnDirectMessage(const DirectMessage& message) {
  Delegate* to = message.channel < 256
                     ? Route(static_cast<uint8_t>(message.channel))
                     : nullptr;
  if (to == nullptr) {
    const std::string text =
        absl::StrCat("no component on channel ", message.channel);
    LogDrop(++stats_.direct_unknown_channel,
            absl::StrCat("refused a direct message from ", message.from, ": ",
                         text));
    return absl::NotFoundError(text);
  }
  ++stats_.direct_delivered;
  return to->OnDirectMessage(message);
}

}  // namespace peerlab::membership
