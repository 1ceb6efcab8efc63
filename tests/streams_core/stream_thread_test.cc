// Stream threads with exactly_once_v2 on a real three-broker cluster: word count over two instances
// (a repartition topic, a logged store), then the same with an instance crashing and restarting while
// it processes. The committed output must be each word's counts 1, 2, ..., n exactly once, in order, and
// the stores must hold the final counts.

#include <gtest/gtest.h>

#include <sstream>

#include "client_core/fetched_records.h"
#include "streams_core/dsl.h"
#include "streams_core/stream_thread.h"
#include "tests/broker_core/txn_cluster.h"
#include "tests/streams_core/helpers.h"

namespace eosim::streams_core {
namespace {

using namespace std::chrono_literals;
using broker_core::TopicConfig;
using broker_core::test_cluster::TxnCluster;

constexpr std::int32_t partitions = 2;
const std::string repartition = "wc-KSTREAM-REPARTITION-0000000002-repartition";

Topology word_count() { return testing::word_count_topology("wc"); }

std::vector<TopicConfig> topics() {
    TopicConfig changelog{"wc-counts-changelog", partitions, 3};
    changelog.configs.cleanup_policy = protocol::CleanupPolicy::compact;
    return {TopicConfig{"lines", partitions, 3}, TopicConfig{"word-counts", partitions, 3},
            TopicConfig{repartition, partitions, 3}, changelog};
}

std::vector<std::string> lines() {
    std::vector<std::string> out;
    for (int i = 0; i < 40; ++i) {
        out.push_back("the cat " + std::string(i % 3 == 0 ? "sat" : "ran") + " and the dog " + std::to_string(i % 5));
    }
    return out;
}

std::map<std::string, int> expected_totals() {
    std::map<std::string, int> totals;
    for (const std::string& line : lines()) {
        std::istringstream in(line);
        for (std::string word; in >> word;) {
            ++totals[word];
        }
    }
    return totals;
}

// An application instance: one stream thread on its node (gone with the node when it crashes).
class Instance final : public sim::NodeState {
public:
    Instance(sim::Node& node, const Topology& topology, const protocol::ClusterAddresses& addresses,
             client_core::HistoryRecorder& history, int index)
        : state_directory(node.disk(), "wc") {
        StreamsConfig config;
        config.application_id = "wc";
        config.client_id = "wc-" + std::to_string(index) + "-1." + std::to_string(node.incarnation());
        config.transactional_id = "wc-" + std::to_string(index) + "-1";
        config.process = "wc-" + std::to_string(index);
        thread = std::make_unique<StreamThread>(node, topology, config, addresses, history, state_directory);
        node.spawn("stream-thread", [this] { thread->run(); });
    }
    StateDirectory state_directory;
    std::unique_ptr<StreamThread> thread;
};

struct WordCountTest {
    explicit WordCountTest(std::uint64_t seed) : topology(word_count()), cluster(seed, {}, topics()) {
        for (int i = 1; i <= 2; ++i) {
            instances.push_back(&cluster.simulation.add_node("wc-" + std::to_string(i), [this, i](sim::Node& node) {
                return std::make_unique<Instance>(node, topology, cluster.addresses, history, i);
            }));
            instances.back()->start();
        }
    }

    // Writes `lines` to "lines", each with acks=all and retried until written.
    void write_lines(const std::vector<std::string>& lines) {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const protocol::TopicPartition partition{"lines", static_cast<std::int32_t>(i % partitions)};
            protocol::ProduceRequest request;
            protocol::RecordBatch batch;
            batch.records.push_back(protocol::Record{std::to_string(i), lines[i], static_cast<std::int64_t>(i)});
            request.partitions.push_back(protocol::ProducePartition{partition, batch});
            for (int attempt = 0; attempt < 50; ++attempt) {
                const auto answer = cluster.call<protocol::ProduceResponse>(cluster.leader(partition), request);
                if (answer && answer->partitions.at(0).error == protocol::ErrorCode::none) {
                    break;
                }
                sim::sleep(100ms);
            }
        }
    }

    // The committed records of "word-counts", per word in offset order.
    std::map<std::string, std::vector<std::string>> committed_counts() {
        std::map<std::string, std::vector<std::string>> counts;
        for (std::int32_t p = 0; p < partitions; ++p) {
            const auto answer = cluster.fetch_committed(protocol::TopicPartition{"word-counts", p});
            const client_core::FetchedRecords fetched =
                client_core::fetched_records(answer, protocol::Offset(0), protocol::IsolationLevel::read_committed);
            for (const client_core::FetchedRecord& record : fetched.records) {
                counts[*record.record->key].push_back(*record.record->value);
            }
        }
        return counts;
    }

    // Watches, in a fiber of the client, until every line is counted and the instances are idle.
    void watch(const bool& written, bool& done) {
        cluster.client->spawn("watch", [this, &written, &done] {
            const std::size_t words = expected_totals().size();
            while (!done) {
                sim::sleep(500ms);
                if (written && idle()) {
                    final_counts = committed_counts();
                    done = final_counts.size() == words && final_counts.at("the").size() >= 80;
                }
            }
        });
    }

    bool idle() {
        for (sim::Node* node : instances) {
            if (!node->up() || !node->state<Instance>().thread->idle()) {
                return false;
            }
        }
        return true;
    }

    Topology topology;
    TxnCluster cluster;
    client_core::HistoryRecorder history;
    std::vector<sim::Node*> instances;
    std::map<std::string, std::vector<std::string>> final_counts;  // read by watch()
};

void expect_exactly_once(WordCountTest& test) {
    const std::map<std::string, std::vector<std::string>>& counts = test.final_counts;
    const std::map<std::string, int> totals = expected_totals();
    ASSERT_EQ(counts.size(), totals.size());
    for (const auto& [word, total] : totals) {
        std::vector<std::string> expected;
        for (int n = 1; n <= total; ++n) {
            expected.push_back(std::to_string(n));
        }
        EXPECT_EQ(counts.at(word), expected) << word << ": each count once, in order";
    }
    // The stores hold the final counts, each in the task of its word's partition.
    std::map<std::string, std::string> stored;
    for (sim::Node* node : test.instances) {
        const StreamThread& thread = *node->state<Instance>().thread;
        for (const TaskId id : thread.running_tasks()) {
            if (id.subtopology == 1) {
                for (const auto& [word, count] : thread.task(id)->stores().at("counts")->all()) {
                    stored[word] = count;
                }
            }
        }
    }
    ASSERT_EQ(stored.size(), totals.size());
    for (const auto& [word, total] : totals) {
        EXPECT_EQ(stored.at(word), std::to_string(total));
    }
}

TEST(StreamThread, WordCountOverTwoInstancesIsExactlyOnce) {
    WordCountTest test(31);
    bool written = false;
    test.cluster.client->spawn("writer", [&] {
        sim::sleep(2s);
        test.write_lines(lines());
        written = true;
    });
    bool done = false;
    test.watch(written, done);
    test.cluster.run_until([&] { return done; }, 120s);
    expect_exactly_once(test);
}

TEST(StreamThread, AnInstanceThatCrashesAndRestartsLeavesTheOutputExactlyOnce) {
    WordCountTest test(32);
    bool written = false;
    test.cluster.client->spawn("writer", [&] {
        sim::sleep(2s);
        const std::vector<std::string> all = lines();
        test.write_lines(std::vector<std::string>(all.begin(), all.begin() + 20));
        sim::sleep(200ms);
        (void)test.instances[0]->crash(sim::CrashOptions{});
        test.write_lines(std::vector<std::string>(all.begin() + 20, all.end()));
        sim::sleep(1500ms);
        test.instances[0]->restart();
        written = true;
    });
    bool done = false;
    test.watch(written, done);
    test.cluster.run_until([&] { return done; }, 120s);
    expect_exactly_once(test);
}

}  // namespace
}  // namespace eosim::streams_core
