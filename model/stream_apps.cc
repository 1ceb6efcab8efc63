// The oracles of the built-in stream applications (docs/apps.md): each application's meaning written
// once more, apart from streams_core and its DSL, as one sequential pass over the committed input.

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "model/streams.h"

namespace eosim::model {

namespace {

using Partitions = std::map<std::int32_t, std::vector<StreamInputRecord>>;

// What follows a generated value's id and its space.
std::string payload(const StreamInputRecord& record) {
    const std::string& value = record.value.value_or("");
    const std::size_t space = value.find(' ');
    return space == std::string::npos ? std::string() : value.substr(space + 1);
}

std::int64_t amount(const StreamInputRecord& record) {
    try {
        return std::stoll(payload(record));
    } catch (const std::exception&) {
        return 0;
    }
}

// Every record, partition by partition, each in offset order: a task's order when the task reads one
// input partition. Each application skips what its operations skip (an aggregation: a null key or value).
void each_record(const Partitions& partitions, const std::function<void(const StreamInputRecord&)>& visit) {
    for (const auto& [partition, records] : partitions) {
        for (const StreamInputRecord& record : records) {
            visit(record);
        }
    }
}

// word-count: each line's words (split at whitespace), counted per word; every new count is written.
StreamExpectation word_count(const Partitions& lines) {
    StreamExpectation expected;
    auto& counts = expected.stores["counts"];
    auto& out = expected.outputs["word-counts"];
    each_record(lines, [&](const StreamInputRecord& record) {
        if (!record.value) {
            return;  // flat_map of a tombstone: no words
        }
        std::istringstream in(*record.value);
        for (std::string word; in >> word;) {
            std::string& count = counts[word];
            count = std::to_string(count.empty() ? 1 : std::stoll(count) + 1);
            out[word].push_back(count);
        }
    });
    return expected;
}

// eos-echo-sum: each record echoed; per key (or per `g<amount mod 4>` after the repartition) the count,
// sum, min and max of the amounts so far.
struct Stats {
    std::int64_t count = 0;
    std::int64_t sum = 0;
    std::int64_t min = 0;
    std::int64_t max = 0;

    void add(std::int64_t value) {
        min = count == 0 ? value : std::min(min, value);
        max = count == 0 ? value : std::max(max, value);
        ++count;
        sum += value;
    }
    [[nodiscard]] std::string text() const { return fmt::format("count={} sum={} min={} max={}", count, sum, min, max); }
};

StreamExpectation echo_sum(const Partitions& data, bool repartition) {
    StreamExpectation expected;
    auto& echo = expected.outputs["echo"];
    auto& sums = expected.outputs["sums"];
    std::map<std::string, Stats> stats;
    each_record(data, [&](const StreamInputRecord& record) {
        echo[record.key.value_or("")].push_back(record.value);  // every record, as it is
        if (!record.value || (!repartition && !record.key)) {
            return;  // the aggregation skips a null value, and a null key (the new key is never null)
        }
        const std::int64_t value = amount(record);
        const std::string key = repartition ? fmt::format("g{}", value % 4) : *record.key;
        Stats& row = stats[key];
        row.add(value);
        sums[key].push_back(row.text());
    });
    for (const auto& [key, row] : stats) {
        expected.stores["stats"][key] = row.text();
    }
    if (repartition) {
        expected.tables.insert("sums");
    }
    return expected;
}

// account-balance: per account, the sum of its amounts, written on every change.
StreamExpectation account_balance(const Partitions& transactions) {
    StreamExpectation expected;
    auto& balances = expected.stores["balances"];
    auto& out = expected.outputs["balances"];
    std::map<std::string, std::int64_t> sums;
    each_record(transactions, [&](const StreamInputRecord& record) {
        if (!record.key || !record.value) {
            return;  // the aggregation skips them
        }
        std::int64_t& balance = sums[*record.key];
        balance += amount(record);
        balances[*record.key] = std::to_string(balance);
        out[*record.key].push_back(std::to_string(balance));
    });
    return expected;
}

// syslog-filter: the lines that contain "Invalid user".
StreamExpectation syslog_filter(const Partitions& syslog) {
    StreamExpectation expected;
    auto& out = expected.outputs["invalid-users"];
    each_record(syslog, [&](const StreamInputRecord& record) {
        if (payload(record).find("Invalid user") != std::string::npos) {
            out[record.key.value_or("")].push_back(record.value);
        }
    });
    return expected;
}

// fraud-window: per card and 5 s tumbling window (`<card>@<start>`), the attempts so far, written while
// above 3. Each input partition is a task with its own stream time, the newest attempt time it has seen
// (the attempt's own included); an attempt whose window ended 2 s (the grace) or more before stream time
// is dropped.
StreamExpectation fraud_window(const Partitions& attempts) {
    constexpr std::int64_t size_ms = 5000;
    constexpr std::int64_t grace_ms = 2000;
    StreamExpectation expected;
    auto& counts = expected.stores["attempts"];
    auto& out = expected.outputs["possible_fraud"];
    for (const auto& [partition, records] : attempts) {
        std::int64_t stream_time = -1;
        for (const StreamInputRecord& record : records) {
            stream_time = std::max(stream_time, record.timestamp);
            if (!record.key || !record.value || record.timestamp < 0) {
                continue;
            }
            const std::int64_t start = record.timestamp - record.timestamp % size_ms;
            if (start + size_ms <= stream_time - grace_ms) {
                continue;  // late: its window closed
            }
            const std::string row = fmt::format("{}@{}", *record.key, start);
            std::string& count = counts[row];
            count = std::to_string(count.empty() ? 1 : std::stoll(count) + 1);
            if (std::stoll(count) > 3) {
                out[row].push_back(count);
            }
        }
    }
    return expected;
}

// vip-join: per partition (a task reads clickstream-p and users-p), the records of both in timestamp
// order, clickstream first on a tie (the generator never makes one for a key); the users table as its rows came;
// each click whose user's row says level=Platinum written as "<click> | <user row>".
StreamExpectation vip_join(const Partitions& clicks, const Partitions& users) {
    StreamExpectation expected;
    auto& rows = expected.stores["users"];
    auto& out = expected.outputs["vip_actions"];
    std::set<std::int32_t> partitions;
    for (const auto& [partition, records] : clicks) {
        partitions.insert(partition);
    }
    for (const auto& [partition, records] : users) {
        partitions.insert(partition);
    }
    for (const std::int32_t partition : partitions) {
        std::map<std::string, std::string> table;  // the task's own part of the users table
        struct Next {
            int topic;  // 0: users, 1: clickstream
            const StreamInputRecord* record;
        };
        // Kafka's PartitionGroup: of the two partitions' heads, the lower timestamp goes first (on a tie the
        // topic first in name order, clickstream, as the stream threads break it); each partition's records
        // in offset order.
        static const std::vector<StreamInputRecord> none;
        const auto records_of = [partition](const Partitions& topic) -> const std::vector<StreamInputRecord>& {
            const auto found = topic.find(partition);
            return found != topic.end() ? found->second : none;
        };
        const std::vector<StreamInputRecord>& user_rows = records_of(users);
        const std::vector<StreamInputRecord>& click_rows = records_of(clicks);
        std::vector<Next> merged;
        std::size_t u = 0;
        std::size_t c = 0;
        while (u < user_rows.size() || c < click_rows.size()) {
            if (c == click_rows.size() || (u < user_rows.size() && user_rows[u].timestamp < click_rows[c].timestamp)) {
                merged.push_back(Next{0, &user_rows[u++]});
            } else {
                merged.push_back(Next{1, &click_rows[c++]});
            }
        }
        for (const Next& next : merged) {
            const StreamInputRecord& record = *next.record;
            if (!record.key) {
                continue;
            }
            if (next.topic == 0) {
                if (record.value) {
                    table[*record.key] = *record.value;
                } else {
                    table.erase(*record.key);
                }
                continue;
            }
            if (!record.value) {
                continue;
            }
            const auto row = table.find(*record.key);
            const std::string joined = *record.value + " | " + (row != table.end() ? row->second : "null");
            if (joined.ends_with(" level=Platinum")) {
                out[*record.key].push_back(joined);
            }
        }
        rows.insert(table.begin(), table.end());
    }
    return expected;
}

}  // namespace

const std::vector<StreamAppInfo>& stream_apps() {
    static const std::vector<StreamAppInfo> apps{
        {"word-count", {"lines"}, {"word-counts"}},
        {"eos-echo-sum", {"data"}, {"echo", "sums"}},
        {"eos-echo-sum-repartition", {"data"}, {"echo", "sums"}},
        {"account-balance", {"transactions"}, {"balances"}},
        {"syslog-filter", {"syslog"}, {"invalid-users"}},
        {"fraud-window", {"authorization_attempts"}, {"possible_fraud"}},
        {"vip-join", {"clickstream", "users"}, {"vip_actions"}},
    };
    return apps;
}

const StreamAppInfo* find_stream_app(std::string_view name) {
    for (const StreamAppInfo& app : stream_apps()) {
        if (app.name == name) {
            return &app;
        }
    }
    return nullptr;
}

std::optional<StreamExpectation> run_stream_oracle(std::string_view app,
                                                   const std::map<std::string, Partitions>& inputs) {
    static const Partitions none;
    const auto input = [&](const std::string& topic) -> const Partitions& {
        const auto found = inputs.find(topic);
        return found != inputs.end() ? found->second : none;
    };
    if (app == "word-count") {
        return word_count(input("lines"));
    }
    if (app == "eos-echo-sum" || app == "eos-echo-sum-repartition") {
        return echo_sum(input("data"), app == "eos-echo-sum-repartition");
    }
    if (app == "account-balance") {
        return account_balance(input("transactions"));
    }
    if (app == "syslog-filter") {
        return syslog_filter(input("syslog"));
    }
    if (app == "fraud-window") {
        return fraud_window(input("authorization_attempts"));
    }
    if (app == "vip-join") {
        return vip_join(input("clickstream"), input("users"));
    }
    return std::nullopt;
}

}  // namespace eosim::model
