#include "scenarios/stream_apps.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "streams_core/dsl.h"

namespace eosim::scenarios {

using streams_core::Record;
using streams_core::StreamsBuilder;
using streams_core::Topology;

namespace {

// word-count: lines split at whitespace, counted per word (the count of each word written on every
// change).
Topology word_count() {
    StreamsBuilder builder("word-count");
    builder.stream({"lines"})
        .flat_map([](const Record& record) {
            std::vector<Record> words;
            std::istringstream in(record.value.value_or(""));
            for (std::string word; in >> word;) {
                words.push_back(Record{word, word, record.timestamp_ms});
            }
            return words;
        })
        .group_by_key()
        .count("counts")
        .to_stream()
        .to("word-counts");
    return builder.topology();
}

StreamInput word_count_line(sim::Random& random, int index, std::uint64_t n) {
    static const char* const words[] = {"the", "cat", "sat", "on", "a",    "mat",  "and", "dog", "ran",  "to",
                                        "it",  "was", "in",  "my", "hat", "fish", "red", "big", "blue", "sun"};
    // Each line begins with its own id, a word of its own: the history needs every value unique.
    const std::string id = fmt::format("p{}-{}", index, n);
    std::string line = id + ":";
    const std::uint64_t count = 1 + random.below(6);
    for (std::uint64_t i = 0; i < count; ++i) {
        line += " " + std::string(words[random.below(std::size(words))]);
    }
    return StreamInput{.key = id, .value = line};
}

// Every generated value begins with its record's own id (`p<producer>-<n>`) and a space: the history needs
// every value unique. The applications read what follows.
std::string payload(const Record& record) {
    const std::string& value = record.value.value_or("");
    const std::size_t space = value.find(' ');
    return space == std::string::npos ? std::string() : value.substr(space + 1);
}

std::int64_t amount(const Record& record) {
    try {
        return std::stoll(payload(record));
    } catch (const std::exception&) {
        return 0;  // not a number: counts as nothing
    }
}

// The event times of the generated records: a fixed origin, and 40 ms per record of a producer (its mean
// send interval), so that the producers' times advance together; windows and joins read them, never a clock.
constexpr std::int64_t event_time_origin_ms = 1'700'000'000'000;
std::int64_t event_time(std::uint64_t n) { return event_time_origin_ms + static_cast<std::int64_t>(n) * 40; }

// eos-echo-sum (Kafka's streams EOS system test): every input record echoed to `echo`, and per key the
// running count, sum, min and max of the amounts to `sums`. The repartition variant groups by a new key,
// the amount modulo 4, through a repartition topic first.
std::string stats_add(const std::string& stats, std::int64_t value) {
    std::int64_t count = 0;
    std::int64_t sum = 0;
    std::int64_t min = value;
    std::int64_t max = value;
    if (!stats.empty()) {
        // Written by the line below: nothing else reaches the store.
        (void)std::sscanf(stats.c_str(), "count=%" SCNd64 " sum=%" SCNd64 " min=%" SCNd64 " max=%" SCNd64, &count, &sum,
                          &min, &max);
    }
    return fmt::format("count={} sum={} min={} max={}", count + 1, sum + value, std::min(min, value), std::max(max, value));
}

Topology eos_echo_sum(bool repartition) {
    StreamsBuilder builder(repartition ? "eos-echo-sum-repartition" : "eos-echo-sum");
    const streams_core::KStream data = builder.stream({"data"});
    data.to("echo");
    const streams_core::KStream keyed =
        repartition ? data.select_key([](const Record& record) { return fmt::format("g{}", amount(record) % 4); }) : data;
    keyed.group_by_key()
        .aggregate([] { return std::string(); },
                   [](const std::string&, const std::string& value, const std::string& stats) {
                       return stats_add(stats, amount(Record{std::nullopt, value, 0}));
                   },
                   "stats")
        .to_stream()
        .to("sums");
    return builder.topology();
}

StreamInput echo_sum_record(sim::Random& random, int index, std::uint64_t n) {
    return StreamInput{.key = fmt::format("k{}", random.below(10)),
                       .value = fmt::format("p{}-{} {}", index, n, random.below(1000))};
}

// account-balance: a stream of amounts per account folded into a table of balances, whose changelog is
// `balances` (stream-table duality: folding the topic gives the table back).
Topology account_balance() {
    StreamsBuilder builder("account-balance");
    builder.stream({"transactions"})
        .group_by_key()
        .aggregate([] { return std::string("0"); },
                   [](const std::string&, const std::string& value, const std::string& balance) {
                       return std::to_string(std::stoll(balance) + amount(Record{std::nullopt, value, 0}));
                   },
                   "balances")
        .to_stream()
        .to("balances");
    return builder.topology();
}

StreamInput account_transaction(sim::Random& random, int index, std::uint64_t n) {
    const std::int64_t cents = static_cast<std::int64_t>(random.below(1500)) - 500;  // deposits and withdrawals
    return StreamInput{.key = fmt::format("acct-{}", random.below(16)), .value = fmt::format("p{}-{} {}", index, n, cents)};
}

// syslog-filter: the syslog lines that contain `Invalid user`, as they are.
Topology syslog_filter() {
    StreamsBuilder builder("syslog-filter");
    builder.stream({"syslog"})
        .filter([](const Record& record) { return payload(record).find("Invalid user") != std::string::npos; })
        .to("invalid-users");
    return builder.topology();
}

StreamInput syslog_line(sim::Random& random, int index, std::uint64_t n) {
    static const char* const users[] = {"admin", "root", "oracle", "test", "guest", "ubuntu"};
    const std::string host = fmt::format("host-{}", random.below(8));
    const std::string from = fmt::format("10.0.{}.{}", random.below(4), random.below(250));
    const std::string user = users[random.below(std::size(users))];
    std::string message;
    switch (random.below(5)) {
        case 0: message = fmt::format("sshd[{}]: Invalid user {} from {} port 22", 1000 + n, user, from); break;
        case 1: message = fmt::format("sshd[{}]: Failed password for {} from {} port 22", 1000 + n, user, from); break;
        case 2: message = fmt::format("sshd[{}]: Accepted publickey for {} from {}", 1000 + n, user, from); break;
        case 3: message = fmt::format("CRON[{}]: (root) CMD (run-parts /etc/cron.hourly)", 2000 + n); break;
        default: message = fmt::format("kernel: eth0: link up, {} Mbps", 1000); break;
    }
    return StreamInput{.key = host, .value = fmt::format("p{}-{} {} {}", index, n, host, message),
                       .timestamp_ms = event_time(n)};
}

// fraud-window: `SELECT card_number, count(*) FROM authorization_attempts WINDOW TUMBLING (SIZE 5 SECONDS)
// GROUP BY card_number HAVING count(*) > 3` into possible_fraud, with a grace of 2 s: the attempts come
// keyed by card number, and one in twenty comes late, by 3 to 9 s of event time.
constexpr std::int64_t fraud_window_ms = 5000;
constexpr std::int64_t fraud_grace_ms = 2000;

Topology fraud_window() {
    StreamsBuilder builder("fraud-window");
    builder.stream({"authorization_attempts"})
        .group_by_key()
        .windowed_by(streams_core::TimeWindows::tumbling(fraud_window_ms, fraud_grace_ms))
        .count("attempts")
        .to_stream()
        .filter([](const Record& record) { return record.value && std::stoll(*record.value) > 3; })
        .to("possible_fraud");
    return builder.topology();
}

StreamInput authorization_attempt(sim::Random& random, int index, std::uint64_t n) {
    std::int64_t time = event_time(n);
    if (random.below(20) == 0) {
        time -= static_cast<std::int64_t>(3000 + random.below(6001));
    }
    return StreamInput{.key = fmt::format("card-{}", random.below(20)),
                       .value = fmt::format("p{}-{} merchant-{}", index, n, random.below(50)),
                       .timestamp_ms = time};
}

// vip-join: `SELECT * FROM clickstream c LEFT JOIN users u ON c.userid = u.user_id WHERE u.level =
// 'Platinum'` into vip_actions: each click joined with its user's row in the users table (co-partitioned by
// user id), kept when the user is Platinum. A join races the table's updates; the generator makes the
// answer one (docs/apps.md): its users first, then clicks, and now and then a change of a user's level,
// each row a barrier, every record stamped in the order it is written. With one producer (the vip-join
// scenarios), each partition's timestamps rise with its offsets and a row is written before every click
// stamped after it, so processing in timestamp order, which the stream threads do, has one answer.
Topology vip_join() {
    StreamsBuilder builder("vip-join");
    const streams_core::KTable users = builder.table("users", "users");
    builder.stream({"clickstream"})
        .left_join(users,
                   [](const std::string& click, const streams_core::Value& user) -> streams_core::Value {
                       return click + " | " + user.value_or("null");
                   })
        .filter([](const Record& record) { return record.value && record.value->ends_with(" level=Platinum"); })
        .to("vip_actions");
    return builder.topology();
}

constexpr std::uint64_t vip_users_per_producer = 12;

StreamInput vip_join_record(sim::Random& random, int index, std::uint64_t n) {
    static const char* const levels[] = {"Platinum", "Gold", "Silver"};
    const auto user = [index](std::uint64_t k) { return fmt::format("u{}-{}", index, k); };
    const auto level_row = [&](std::uint64_t k) {
        return StreamInput{.key = user(k),
                           .value = fmt::format("p{}-{} level={}", index, n, levels[random.below(std::size(levels))]),
                           .topic = "users",
                           .timestamp_ms = event_time(n),
                           .barrier = true};
    };
    if (n < vip_users_per_producer) {
        return level_row(n);  // the users first
    }
    if (random.below(25) == 0) {
        return level_row(random.below(vip_users_per_producer));  // a change of level
    }
    return StreamInput{.key = user(random.below(vip_users_per_producer)),
                       .value = fmt::format("p{}-{} page=/p{}", index, n, random.below(40)),
                       .topic = "clickstream",
                       .timestamp_ms = event_time(n)};
}

}  // namespace

const std::vector<StreamApp>& stream_apps() {
    static const std::vector<StreamApp> apps{
        {"word-count", "lines split into words, each word's count written on every change (through a repartition topic)",
         {"lines"}, {"word-counts"}, word_count, word_count_line},
        {"eos-echo-sum", "every record echoed, and per key the running count, sum, min and max of the amounts",
         {"data"}, {"echo", "sums"}, [] { return eos_echo_sum(false); }, echo_sum_record},
        {"eos-echo-sum-repartition",
         "eos-echo-sum with the sums per new key (the amount modulo 4), through a repartition topic",
         {"data"}, {"echo", "sums"}, [] { return eos_echo_sum(true); }, echo_sum_record},
        {"account-balance", "amounts per account folded into a table of balances; the output topic is its changelog",
         {"transactions"}, {"balances"}, account_balance, account_transaction},
        {"syslog-filter", "the syslog lines that contain 'Invalid user'", {"syslog"}, {"invalid-users"}, syslog_filter,
         syslog_line},
        {"fraud-window",
         "authorization attempts counted per card in 5 s tumbling windows (2 s grace, late ones dropped); windows "
         "above 3 attempts written to possible_fraud",
         {"authorization_attempts"}, {"possible_fraud"}, fraud_window, authorization_attempt},
        {"vip-join",
         "clicks joined with their user's row of the users table (a left join), kept for Platinum users, into "
         "vip_actions",
         {"clickstream", "users"}, {"vip_actions"}, vip_join, vip_join_record},
    };
    return apps;
}

const StreamApp* find_stream_app(std::string_view name) {
    for (const StreamApp& app : stream_apps()) {
        if (app.name == name) {
            return &app;
        }
    }
    return nullptr;
}

std::vector<protocol::TopicDescription> stream_app_topics(const StreamApp& app, std::int32_t partitions,
                                                          std::int32_t replication_factor) {
    std::vector<protocol::TopicDescription> topics;
    std::set<std::string> named;
    const auto add = [&](const std::string& name, bool compacted) {
        if (!named.insert(name).second) {
            return;
        }
        protocol::TopicDescription topic{.name = name, .partitions = partitions, .replication_factor = replication_factor};
        if (compacted) {
            topic.configs.cleanup_policy = protocol::CleanupPolicy::compact;
        }
        topics.push_back(std::move(topic));
    };
    for (const std::string& input : app.inputs) {
        add(input, false);
    }
    for (const std::string& output : app.outputs) {
        add(output, false);
    }
    const Topology topology = app.topology();
    for (const std::string& topic : topology.source_topics()) {
        add(topic, false);  // a repartition topic: written and read by the application
    }
    for (const auto& [name, store] : topology.stores()) {
        if (store.logged) {
            add(streams_core::changelog_topic(std::string(app.name), name), true);
        }
    }
    return topics;
}

}  // namespace eosim::scenarios
