// --plot: the SVG is well-formed XML (checked by a small parser here: no
// dependency) and carries every series and a shaded window per fault span.
#include "peer/membership/tool/sim_plot.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "base/testing/subprocess.h"
#include "gtest/gtest.h"

namespace peerlab::membership::tool {
namespace {

// Elements of a well-formed XML document: name -> count, and the ids seen;
// an error message otherwise.
struct Xml {
  std::string error;
  std::map<std::string, int> elements;
  std::map<std::string, std::string> ids;  // id -> element name
  std::map<std::string, int> classes;      // class -> count
};

bool ValidText(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<') return false;
    if (text[i] != '&') continue;
    const size_t end = text.find(';', i);
    if (end == std::string::npos) return false;
    const std::string entity = text.substr(i + 1, end - i - 1);
    if (entity != "amp" && entity != "lt" && entity != "gt" &&
        entity != "quot" && entity != "apos" &&
        (entity.empty() || entity[0] != '#')) {
      return false;
    }
  }
  return true;
}

Xml ParseXml(const std::string& doc) {
  Xml x;
  size_t i = 0;
  auto fail = [&](const std::string& what) {
    x.error = what + " at offset " + std::to_string(i);
    return x;
  };
  if (doc.rfind("<?xml", 0) == 0) {
    i = doc.find("?>");
    if (i == std::string::npos) return fail("unterminated declaration");
    i += 2;
  }
  std::vector<std::string> open;
  int roots = 0;
  auto is_name = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == ':' || c == '.';
  };
  while (i < doc.size()) {
    const size_t lt = doc.find('<', i);
    const std::string text =
        doc.substr(i, (lt == std::string::npos ? doc.size() : lt) - i);
    if (!ValidText(text)) return fail("bad text");
    if (open.empty() && text.find_first_not_of(" \n\r\t") != std::string::npos)
      return fail("text outside the root");
    if (lt == std::string::npos) break;
    i = lt + 1;
    if (doc.compare(i, 1, "/") == 0) {
      size_t e = ++i;
      while (e < doc.size() && is_name(doc[e])) ++e;
      const std::string name = doc.substr(i, e - i);
      if (open.empty() || open.back() != name)
        return fail("mismatched </" + name + ">");
      open.pop_back();
      i = doc.find('>', e);
      if (i == std::string::npos) return fail("unterminated end tag");
      ++i;
      continue;
    }
    size_t e = i;
    while (e < doc.size() && is_name(doc[e])) ++e;
    const std::string name = doc.substr(i, e - i);
    if (name.empty()) return fail("empty element name");
    if (open.empty() && ++roots > 1) return fail("two roots");
    ++x.elements[name];
    i = e;
    std::map<std::string, bool> seen;
    for (;;) {
      while (i < doc.size() && std::isspace(static_cast<unsigned char>(doc[i])))
        ++i;
      if (i >= doc.size()) return fail("unterminated tag");
      if (doc.compare(i, 2, "/>") == 0) {
        i += 2;
        break;
      }
      if (doc[i] == '>') {
        open.push_back(name);
        ++i;
        break;
      }
      size_t a = i;
      while (a < doc.size() && is_name(doc[a])) ++a;
      const std::string attr = doc.substr(i, a - i);
      if (attr.empty() || a >= doc.size() || doc[a] != '=' ||
          a + 1 >= doc.size() || (doc[a + 1] != '"' && doc[a + 1] != '\'')) {
        return fail("bad attribute in <" + name + ">");
      }
      if (seen[attr]) return fail("repeated attribute " + attr);
      seen[attr] = true;
      const char quote = doc[a + 1];
      const size_t close = doc.find(quote, a + 2);
      if (close == std::string::npos) return fail("unterminated value");
      const std::string value = doc.substr(a + 2, close - a - 2);
      if (!ValidText(value)) return fail("bad value of " + attr);
      if (attr == "id") {
        if (x.ids.count(value)) return fail("repeated id " + value);
        x.ids[value] = name;
      }
      if (attr == "class") ++x.classes[value];
      i = close + 1;
    }
  }
  if (!open.empty()) return fail("unclosed <" + open.back() + ">");
  if (roots != 1) return fail("no root");
  return x;
}

TEST(SimPlotTest, TheCheckerRefusesBrokenXml) {
  EXPECT_TRUE(ParseXml("<a><b x=\"1\"/></a>").error.empty());
  EXPECT_FALSE(ParseXml("<a><b></a>").error.empty());
  EXPECT_FALSE(ParseXml("<a x=1/>").error.empty());
  EXPECT_FALSE(ParseXml("<a>&</a>").error.empty());
  EXPECT_FALSE(ParseXml("<a/><b/>").error.empty());
  EXPECT_FALSE(ParseXml("<a x=\"1\" x=\"2\"/>").error.empty());
}

TEST(SimPlotTest, AFlipFlopRunIsWellFormedWithEverySeries) {
  SimRunOptions o;
  o.nodes = 20;
  o.scenario = Scenario::kFlipFlop;
  o.flip_on = o.flip_off = absl::Seconds(10);
  o.duration = absl::Seconds(60);
  auto r = RunSimulation(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->samples.size(), 61u);  // one a second, 0 s to 60 s
  ASSERT_EQ(r->fault_spans.size(), 3u);
  const std::string svg = RenderSvg(*r);
  const Xml x = ParseXml(svg);
  ASSERT_TRUE(x.error.empty()) << x.error;
  EXPECT_EQ(x.elements.at("svg"), 1);
  for (const char* id :
       {"alive", "suspect", "removed", "disagreeing", "agree", "disagree",
        "sent-mean", "sent-max", "received-mean"}) {
    EXPECT_TRUE(x.ids.count(id)) << id;
  }
  EXPECT_EQ(x.ids.at("alive"), "polygon");
  EXPECT_EQ(x.ids.at("sent-mean"), "polyline");
  // Each fault span shaded in each of the three panels.
  EXPECT_EQ(x.classes.at("fault"), 3 * 3);
  EXPECT_NE(svg.find("--scenario flipflop"), std::string::npos);
}

TEST(SimPlotTest, ARunWithoutSamplesStillGivesADocument) {
  SimRunResult r;
  r.options.nodes = 3;
  const Xml x = ParseXml(RenderSvg(r));
  EXPECT_TRUE(x.error.empty()) << x.error;
}

// The binary writes the file given to --plot.
TEST(SimPlotTest, PeerlabSimWritesThePlot) {
  const char* bin_dir = std::getenv("PEERLAB_BIN_DIR");
  ASSERT_NE(bin_dir, nullptr) << "PEERLAB_BIN_DIR is not set (run via ctest)";
  auto dir = testing::TempDir::Create("peerlab-sim-plot");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string svg = (*dir)->File("run.svg");
  auto p = testing::Subprocess::Start(
      {.argv = {std::string(bin_dir) + "/peerlab-sim", "--nodes", "10",
                "--scenario", "oneway", "--duration", "30", "--plot", svg,
                "--quiet"},
       .stdout_path = (*dir)->File("out"),
       .stderr_path = (*dir)->File("err")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto exit = (*p)->Wait(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(exit->success()) << (*p)->ReadStderr();
  auto text = testing::ReadFile(svg);
  ASSERT_TRUE(text.ok()) << text.status();
  const Xml x = ParseXml(*text);
  EXPECT_TRUE(x.error.empty()) << x.error;
  EXPECT_TRUE(x.ids.count("removed"));
}

}  // namespace
}  // namespace peerlab::membership::tool
