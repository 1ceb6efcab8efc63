#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "scenarios/probes.h"
#include "scenarios/runner.h"
#include "scenarios/spec.h"
#include "sim/simulation.h"

namespace eosim::scenarios {
namespace {

// Every probe name the code passes to sim::probe (a literal, or both arms of a ?: of literals).
std::set<std::string> probes_in_source() {
    std::set<std::string> names;
    const std::regex call(R"re(sim::probe\(([^;]*)\);)re");
    const std::regex literal(R"re("([a-z0-9-]+)")re");
    for (const char* module : {"broker_core", "client_core", "streams_core", "scenarios", "faults"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(std::filesystem::path(EOSIM_SOURCE_DIR) / module)) {
            if (entry.path().extension() != ".cc" && entry.path().extension() != ".h") {
                continue;
            }
            std::ifstream in(entry.path());
            std::stringstream text;
            text << in.rdbuf();
            const std::string source = text.str();
            for (auto it = std::sregex_iterator(source.begin(), source.end(), call); it != std::sregex_iterator(); ++it) {
                const std::string arguments = (*it)[1];
                for (auto name = std::sregex_iterator(arguments.begin(), arguments.end(), literal);
                     name != std::sregex_iterator(); ++name) {
                    names.insert((*name)[1]);
                }
            }
        }
    }
    return names;
}

TEST(CodeProbes, TheCatalogueListsExactlyTheProbesInTheCode) {
    const std::set<std::string> in_source = probes_in_source();
    std::set<std::string> listed;
    for (const CodeProbe& probe : code_probes()) {
        EXPECT_TRUE(listed.insert(std::string(probe.name)).second) << "listed twice: " << probe.name;
        EXPECT_FALSE(probe.description.empty()) << probe.name;
        EXPECT_FALSE(probe.where.empty()) << probe.name;
    }
    EXPECT_EQ(in_source, listed);
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
