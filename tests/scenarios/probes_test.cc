#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "scenarios/probes.h"
#include "scenarios/runner.h"
#include "scenarios/spec.h"
#include "sim/simulation.h"

namespace eosim::scenarios {
namespace {

// The quoted names in each call of `function` in the sources of the simulated system (a literal, or both
// arms of a ?: of literals). A scan by hand: GCC 12 warns inside std::regex under the sanitizers.
std::set<std::string> names_in_source(const std::string& function) {
    std::set<std::string> names;
    for (const char* module : {"broker_core", "client_core", "streams_core", "scenarios", "faults"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(std::filesystem::path(EOSIM_SOURCE_DIR) / module)) {
            if (entry.path().extension() != ".cc") {
                continue;
            }
            std::ifstream in(entry.path());
            std::stringstream text;
            text << in.rdbuf();
            const std::string source = text.str();
            for (std::size_t call = source.find(function); call != std::string::npos;
                 call = source.find(function, call + 1)) {
                // To the call's closing parenthesis, taking each string literal on the way.
                int depth = 1;
                for (std::size_t i = call + function.size(); i < source.size() && depth > 0; ++i) {
                    if (source[i] == '"') {
                        const std::size_t closing = source.find('"', i + 1);
                        names.insert(source.substr(i + 1, closing - i - 1));
                        i = closing;
                    } else {
                        depth += source[i] == '(' ? 1 : (source[i] == ')' ? -1 : 0);
                    }
                }
            }
        }
    }
    return names;
}

TEST(CodeProbes, TheCatalogueListsExactlyTheProbesInTheCode) {
    const std::set<std::string> in_source = names_in_source("sim::probe(");
    std::set<std::string> listed;
    for (const CodeProbe& probe : code_probes()) {
        EXPECT_TRUE(listed.insert(std::string(probe.name)).second) << "listed twice: " << probe.name;
        EXPECT_FALSE(probe.description.empty()) << probe.name;
        EXPECT_FALSE(probe.where.empty()) << probe.name;
    }
    EXPECT_EQ(in_source, listed);
    EXPECT_GE(listed.size(), 30U);
}

TEST(BuggifySites, TheCatalogueListsExactlyTheSitesInTheCode) {
    std::set<std::string> listed;
    for (const CodeProbe& site : buggify_sites()) {
        EXPECT_TRUE(listed.insert(std::string(site.name)).second) << "listed twice: " << site.name;
        EXPECT_FALSE(site.description.empty()) << site.name;
    }
    EXPECT_EQ(names_in_source("sim::buggify("), listed);
    EXPECT_GE(listed.size(), 30U);
}

TEST(CodeProbes, ARunReportsTheProbesItReached) {
    const RunResult result = run(*find_builtin("txn-coordinator-failover"), 1);
    ASSERT_EQ(result.status, RunStatus::pass) << result.error;
    EXPECT_FALSE(result.probes.empty());
    EXPECT_TRUE(std::is_sorted(result.probes.begin(), result.probes.end()));
    for (const std::string& name : result.probes) {
        EXPECT_NE(find_probe(name), nullptr) << name;
    }
}

TEST(CodeProbes, AProbeLeavesTheFingerprintAlone) {
    const auto fingerprint = [](bool probe) {
        sim::Simulation simulation(sim::SimulationOptions{.seed = 3});
        simulation.world().spawn("w", [probe] {
            if (probe) {
                sim::probe("truncation-by-diverging-epoch");
            }
            sim::sleep(std::chrono::milliseconds(1));
        });
        (void)simulation.run(sim::RunBounds{.time_limit = sim::Time(std::chrono::seconds(1))});
        EXPECT_EQ(simulation.probes().size(), probe ? 1U : 0U);
        return simulation.fingerprint();
    };
    EXPECT_EQ(fingerprint(true), fingerprint(false));
    sim::probe("outside-any-simulation");  // does nothing
}

}  // namespace
}  // namespace eosim::scenarios
