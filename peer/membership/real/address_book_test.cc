#include "peer/membership/real/address_book.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace peerlab::membership {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(AddressBookTest, SetAndGet) {
  AddressBook book;
  EXPECT_EQ(book.Get("10.0.0.1:7946"), "");
  book.Set("10.0.0.1:7946", "10.0.0.1:50051");
  EXPECT_EQ(book.Get("10.0.0.1:7946"), "10.0.0.1:50051");
  book.Set("10.0.0.1:7946", "10.0.0.1:50052");
  EXPECT_EQ(book.Get("10.0.0.1:7946"), "10.0.0.1:50052");
}

TEST(AddressBookTest, QueriesAnUnknownMemberAtMostOncePerInterval) {
  AddressBook book({.query_interval = absl::Seconds(5), .max_entries = 100});
  struct Step {
    absl::Duration at;
    bool query;
  };
  const Step steps[] = {
      {absl::ZeroDuration(), true},  // first datagram
      {absl::Seconds(1), false},     // too soon
      {absl::Milliseconds(4999), false},
      {absl::Seconds(5), true},  // the interval has passed
      {absl::Seconds(6), false},
      {absl::Seconds(10), true},
  };
  for (const Step& s : steps) {
    EXPECT_EQ(book.ShouldQuery("a:1", kStart + s.at), s.query) << "at " << s.at;
  }
  // A known member is never asked.
  book.Set("a:1", "a:2");
  EXPECT_FALSE(book.ShouldQuery("a:1", kStart + absl::Hours(1)));
}

TEST(AddressBookTest, TablesAreBoundedAgainstForgedSources) {
  AddressBook book({.query_interval = absl::Seconds(5), .max_entries = 8});
  for (int i = 0; i < 100; ++i) {
    book.Set(absl::StrCat("10.0.0.", i, ":1"), "g:1");
    EXPECT_TRUE(book.ShouldQuery(absl::StrCat("10.0.1.", i, ":1"), kStart));
  }
  EXPECT_GT(book.clears(), 0u);
  // The latest entry is always kept.
  EXPECT_EQ(book.Get("10.0.0.99:1"), "g:1");
}

}  // namespace
}  // namespace peerlab::membership
