#include "scenarios/swarm.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "sim/assert.h"
#include "sim/random.h"

namespace eosim::scenarios {

// Generated from specs/*.toml (embed_specs.cmake).
const std::vector<std::pair<std::string_view, std::string_view>>& builtin_spec_texts();

namespace {

// Edits a spec's TOML and notes each drawn value.
class Drawer {
public:
    Drawer(std::uint64_t seed, SwarmDraw& draw) : random_(sim::Random(seed).fork("swarm")), draw_(draw) {}

    sim::Random& random() { return random_; }
    toml::table& root() { return root_; }
    void load(std::string_view text, const std::string& source) { root_ = toml::parse(text, source); }

    toml::table& table(std::string_view name) {
        if (root_.get_as<toml::table>(name) == nullptr) {
            root_.insert_or_assign(name, toml::table{});
        }
        return *root_.get_as<toml::table>(name);
    }
    template <typename T>
    void set(std::string_view table_name, std::string_view key, T value) {
        table(table_name).insert_or_assign(key, value);
        note(fmt::format("{}.{}", table_name, key), value);
    }
    void set_range(std::string_view table_name, std::string_view key, std::int64_t low, std::int64_t high) {
        toml::array range{low, high};
        table(table_name).insert_or_assign(key, std::move(range));
        note(fmt::format("{}.{}", table_name, key), fmt::format("[{}, {}]", low, high));
    }
    template <typename T>
    void note(std::string name, const T& value) {
        draw_.knobs.emplace_back(std::move(name), fmt::format("{}", value));
    }
    // An integer of the base spec (or `otherwise`).
    std::int64_t integer(std::string_view table_name, std::string_view key, std::int64_t otherwise) {
        const toml::table* t = root_.get_as<toml::table>(table_name);
        const toml::node* node = t != nullptr ? t->get(key) : nullptr;
        return node != nullptr ? node->value<std::int64_t>().value_or(otherwise) : otherwise;
    }
    // A [low, high] range of the base spec.
    std::optional<std::pair<std::int64_t, std::int64_t>> range(std::string_view table_name, std::string_view key) {
        const toml::table* t = root_.get_as<toml::table>(table_name);
        const toml::array* a = t != nullptr && t->get(key) != nullptr ? t->get(key)->as_array() : nullptr;
        if (a == nullptr || a->size() != 2) {
            return std::nullopt;
        }
        return std::pair{a->get(0)->value<std::int64_t>().value_or(0), a->get(1)->value<std::int64_t>().value_or(0)};
    }

private:
    sim::Random random_;
    SwarmDraw& draw_;
    toml::table root_;
};

// Whether the base sets producer expiry short, timing it against its producers' idle stretches or its
// transaction timeout: the draws that would move either leave it alone.
bool expiry_timed(const Spec& base) {
    return base.cluster.producer_id_expiration_ms < 24LL * 3600 * 1000;
}

// The cluster: 1 to 5 brokers. Three or more keep replication 3 and min ISR 2; two brokers replicate twice
// with min ISR 2, and the faults that only a third replica repairs (a lost or corrupted replica, every
// broker losing power) go; one broker is idempotent-one-broker's shape (below).
void draw_cluster(Drawer& d, const Spec& base) {
    if (base.cluster.replication_factor != 3 || base.cluster.min_insync_replicas != 2 || base.cluster.brokers != 3) {
        return;  // a scenario about a cluster shape of its own keeps it
    }
    static const std::vector<std::int64_t> choices{1, 2, 3, 3, 3, 4, 5};
    const std::int64_t brokers = d.random().pick(choices);
    const std::int64_t replication = std::min<std::int64_t>(brokers, 3);
    const std::int64_t min_isr = std::min<std::int64_t>(brokers, 2);
    d.set("cluster", "brokers", brokers);
    d.set("cluster", "replication_factor", replication);
    d.set("cluster", "min_insync_replicas", min_isr);
    if (toml::array* topics = d.root().get_as<toml::array>("topics")) {
        for (toml::node& topic : *topics) {
            if (toml::table* t = topic.as_table(); t != nullptr && t->contains("replication_factor")) {
                t->insert_or_assign("replication_factor", replication);
            }
        }
    }
    if (brokers == 1) {
        d.set("cluster", "flush_every_write", true);
    } else if (brokers >= 3 && !base.cluster.flush_every_write) {
        d.set("cluster", "flush_every_write", d.random().chance(0.2));
    }
    if (brokers < 3) {
        // Two copies: the faults only a third replica repairs go. One copy (idempotent-one-broker's shape):
        // a crash keeps the page cache, and what takes fsynced or unsynced bytes from the only replica
        // goes too: a consumer may have read a record whose fsync had not finished (the leader's high
        // watermark counts its log end, as Kafka's does). As in idempotent-one-broker, the run is not
        // within tolerance: its only broker goes down, and the clients wait and retry.
        static const std::set<std::string> two_copies_drop{"corrupt", "lose-segment", "power-loss"};
        static const std::set<std::string> one_copy_drop{"corrupt",      "lose-segment", "power-loss",
                                                         "crash-several", "crash-rack",   "corrupt-file"};
        const std::set<std::string>& dropped = brokers == 1 ? one_copy_drop : two_copies_drop;
        if (const toml::array* kinds = d.table("faults").get_as<toml::array>("kinds")) {
            toml::array kept;
            for (const toml::node& kind : *kinds) {
                const std::string name = kind.value<std::string>().value_or("");
                if (!dropped.contains(name)) {
                    kept.push_back(name);
                }
            }
            if (kept.empty()) {
                kept.push_back("crash");
            }
            d.table("faults").insert_or_assign("kinds", std::move(kept));
        }
        if (brokers == 1) {
            d.set("faults", "crash_unsynced", std::string("keep"));
            d.set("faults", "within_tolerance", false);
        }
    }
    if (d.table("cluster").contains("partitions") || base.workload.stream_app.empty()) {
        d.set("cluster", "partitions", d.random().between(1, 6));
    }
    static const std::vector<std::int64_t> fetch_sizes{4096, 65536, 1 << 20};
    d.set("cluster", "replica_fetch_max_bytes", d.random().pick(fetch_sizes));
}

// The workload's knobs, each within what its scenario keeps correct.
void draw_workload(Drawer& d, const Spec& base) {
    const WorkloadSpec& w = base.workload;
    if (w.producers > 0 && w.idempotent) {
        d.set("workload", "max_in_flight", d.random().between(1, 5));
    }
    if (w.producers > 0 && w.idempotent && w.delivery_timeout_ms >= 10'000) {
        d.set("workload", "delivery_timeout_ms", d.random().between(3000, 12000));
    }
    if (const auto interval = d.range("workload", "send_interval_ms")) {
        static const std::vector<std::int64_t> percents{50, 100, 200};
        const std::int64_t percent = d.random().pick(percents);
        d.set_range("workload", "send_interval_ms", std::max<std::int64_t>(1, interval->first * percent / 100),
                    std::max<std::int64_t>(1, interval->second * percent / 100));
    }
    // A scenario that sets producer expiration short times it against its transaction timeout: there the
    // timeout stays.
    if ((w.transactional_producers > 0 || w.ctp_instances > 0 || (!w.stream_app.empty() && w.stream_exactly_once)) &&
        !expiry_timed(base)) {
        const std::int64_t base_timeout = d.integer("workload", "txn_timeout_ms", 10'000);
        d.set("workload", "txn_timeout_ms", d.random().between(std::max<std::int64_t>(2000, base_timeout / 2),
                                                                base_timeout * 3 / 2));
    }
    if (!w.stream_app.empty()) {
        d.set("workload", "stream_commit_interval_ms", d.random().between(50, 400));
        d.set("workload", "stream_threads", d.random().between(1, 2));
    }
}

// The fault mix: each of the scenario's kinds kept or not (at least one), rates and lengths scaled, the chaos
// phase's length.
void draw_faults(Drawer& d, const Spec& base) {
    toml::table& faults = d.table("faults");
    if (toml::array* kinds = faults.get_as<toml::array>("kinds"); kinds != nullptr && !kinds->empty()) {
        std::vector<std::string> all;
        for (const toml::node& kind : *kinds) {
            all.push_back(kind.value<std::string>().value_or(""));
        }
        std::vector<std::string> kept;
        for (const std::string& kind : all) {
            if (d.random().chance(0.7)) {
                kept.push_back(kind);
            }
        }
        if (kept.empty()) {
            kept.push_back(d.random().pick(all));
        }
        // The fault kinds no built-in scenario draws on its own (clocks, slow and full disks, link shapes, slow
        // nodes, racks): each joins the mix now and then.
        static const std::vector<std::string> more{"clock-jump", "clock-drift", "slow-disk", "disk-full",
                                                   "flap",       "slow-link",   "slow-node", "crash-rack"};
        for (const std::string& kind : more) {
            // A scenario that times producer expiry against its producers' idle stretches (idempotent-retention)
            // holds only on true clocks: a leader's clock stepped past the margin forgets a producer that is
            // still retrying, and Kafka then takes the retry as new (docs/faults.md, "Clocks").
            const bool clock = kind == "clock-jump" || kind == "clock-drift";
            // A scenario whose every broker loses power at once (beyond tolerance) promises only that
            // acknowledged writes survive: a leader counts its log end in the high watermark before its own
            // fsync ends, as Kafka's does, so a slow disk there lets consumers read what the power loss then
            // takes from the leader that the controller elects again (docs/faults.md, "Disks").
            const bool whole_cluster_power_loss =
                !base.faults.within_tolerance &&
                std::find(base.faults.plan.kinds.begin(), base.faults.plan.kinds.end(), faults::FaultKind::power_loss) !=
                    base.faults.plan.kinds.end();
            if (d.random().chance(0.2) && std::find(kept.begin(), kept.end(), kind) == kept.end() &&
                (kind != "crash-rack" || d.integer("cluster", "brokers", 3) >= 3) &&
                (!clock || !expiry_timed(base)) &&
                (kind != "slow-disk" || !whole_cluster_power_loss)) {
                kept.push_back(kind);
            }
        }
        toml::array drawn;
        for (const std::string& kind : kept) {
            drawn.push_back(kind);
        }
        faults.insert_or_assign("kinds", std::move(drawn));
        std::string names;
        for (const std::string& kind : kept) {
            names += (names.empty() ? "" : " ") + kind;
        }
        d.note("faults.kinds", names);
    }
    static const std::vector<std::int64_t> percents{50, 75, 100};  // never longer: some specs bound their faults
    if (const auto interval = d.range("faults", "interval_ms")) {
        const std::int64_t percent = d.random().pick(percents);
        d.set_range("faults", "interval_ms", std::max<std::int64_t>(50, interval->first * percent / 100),
                    std::max<std::int64_t>(100, interval->second * percent / 100));
    }
    if (const auto duration = d.range("faults", "duration_ms")) {
        const std::int64_t percent = d.random().pick(percents);
        d.set_range("faults", "duration_ms", std::max<std::int64_t>(50, duration->first * percent / 100),
                    std::max<std::int64_t>(100, duration->second * percent / 100));
    }
    d.set("faults", "chaos_ms", d.random().between(5000, 15000));
}

// What joined the draw later, from a stream of its own, so that every draw above stays what it was for every
// seed: directory operations durable only once synced; a link of limited bandwidth and damaged files among the
// fault kinds; client crashes.
void draw_more(sim::Random random, Drawer& d, const Spec& base) {
    if (!base.faults.directory_ops_need_sync && random.chance(0.3)) {
        d.set("faults", "directory_ops_need_sync", true);
    }
    toml::array* kinds = d.table("faults").get_as<toml::array>("kinds");
    const toml::node* tolerance = d.table("faults").get("within_tolerance");
    const bool within_tolerance =
        tolerance != nullptr ? tolerance->value<bool>().value_or(true) : base.faults.within_tolerance;
    std::string added;
    for (const std::string_view kind : {"narrow-link", "corrupt-file"}) {
        const bool has = kinds != nullptr && std::any_of(kinds->begin(), kinds->end(), [kind](const toml::node& k) {
            return k.value<std::string>().value_or("") == kind;
        });
        // Out of tolerance a damaged file may be one nobody could see (an index entry's producer id).
        const bool unguarded = kind == "corrupt-file" && !within_tolerance;
        if (kinds != nullptr && !kinds->empty() && !has && random.chance(0.2) && !unguarded) {
            kinds->push_back(kind);
            added += fmt::format("{}{}", added.empty() ? "" : " ", kind);
        }
    }
    if (!added.empty()) {
        d.note("faults.kinds+", added);
    }
    // Crashes and pauses of producers, consumers and transactional writers (client-crashes' client_faults),
    // where the base has no stream application (which the option does not go with) and does not time
    // producer expiry against its producers' idle stretches.
    if (random.chance(0.2) && !base.workload.client_faults && base.workload.stream_app.empty() && !expiry_timed(base)) {
        d.set("workload", "client_faults", true);
        if (base.workload.instance_faults_every_max_ms == 0) {
            d.set_range("workload", "instance_faults_every_ms", 300, 1200);
            d.set_range("workload", "instance_fault_ms", 100, 2000);
        }
    }
}

// A consumer group of 2 or 3 at-least-once members (group-rebalance's "members"), with the range or
// cooperative-sticky assignor. Returns the members.
std::int64_t draw_group(sim::Random& random, Drawer& d) {
    const std::int64_t members = random.between(2, 3);
    d.set("workload", "group_members", members);
    static const std::vector<std::string> assignors{"range", "cooperative-sticky"};
    d.set("workload", "group_assignor", random.pick(assignors));
    return members;
}

// Several workloads at once (a stream of its own too): a consumer group beside the base's workload, and
// transactional writers beside its producers, each now and then where the base has room for it; beside an
// application, writers (and a group) on a topic of their own. They share the base's brokers and coordinators;
// the checkers hold each one's clients to its own semantics. Then the transaction version.
void draw_workloads(sim::Random random, Drawer& d, const Spec& base) {
    const WorkloadSpec& w = base.workload;
    // Applications that own their topics' meaning (consume-transform-produce, stream applications) keep them.
    const bool application = w.ctp_instances > 0 || !w.stream_app.empty();
    std::string added;
    std::int64_t group_members = w.group_members;
    if (!application && w.group_members == 0 && random.chance(0.25)) {
        group_members = draw_group(random, d);  // reading every topic
        d.set("workload", "group_leave_percent", random.between(0, 2));
        if (!d.range("workload", "instance_faults_every_ms") && random.chance(0.5)) {
            d.set_range("workload", "instance_faults_every_ms", 500, 2500);
            d.set_range("workload", "instance_fault_ms", 200, 3000);
        }
        added += "group";
    }
    // Transactional writers beside plain or idempotent producers (client-crashes' mix). Not where every broker
    // loses power at once (beyond tolerance: a transaction's records and markers are not all fsynced), nor on
    // compacted topics, nor where producer expiry is timed against the base's idle stretches.
    const bool power_loss = std::find(base.faults.plan.kinds.begin(), base.faults.plan.kinds.end(),
                                      faults::FaultKind::power_loss) != base.faults.plan.kinds.end();
    const bool compacted_topics = std::any_of(base.topics.begin(), base.topics.end(), [&base](const auto& topic) {
        return compacted(base, topic);
    });
    std::int64_t transactional = w.transactional_producers;
    if (!application && w.transactional_producers == 0 && !power_loss && !compacted_topics && !expiry_timed(base) &&
        random.chance(0.25)) {
        transactional = random.between(1, 3);
        d.set("workload", "transactional_producers", transactional);
        d.set("workload", "read_committed_consumers", std::max<std::int64_t>(w.read_committed_consumers, 1));
        d.set("workload", "txn_abort_percent", random.between(0, 20));
        // Past the producers' delivery timeout: a batch given up on aborts its transaction before the
        // coordinator's timeout would.
        const std::int64_t delivery = d.integer("workload", "delivery_timeout_ms", w.delivery_timeout_ms);
        const std::int64_t low = std::max<std::int64_t>(5000, delivery + 2000);
        d.set("workload", "txn_timeout_ms", random.between(low, low + 8000));
        added += added.empty() ? "transactions" : " transactions";
    }
    // Beside an application (which owns its topics): transactional writers on a topic of their own, and now
    // and then a consumer group reading it.
    if (application && !power_loss && !expiry_timed(base) && random.chance(0.3)) {
        toml::table side{{"name", "side"}, {"partitions", random.between(1, 4)}};
        if (d.root().get_as<toml::array>("topics") == nullptr) {
            d.root().insert_or_assign("topics", toml::array{});  // the [cluster] topic goes: nobody writes it
        }
        d.root().get_as<toml::array>("topics")->push_back(std::move(side));
        transactional = random.between(1, 3);
        d.set("workload", "transactional_producers", transactional);
        d.table("workload").insert_or_assign("txn_topics", toml::array{"side"});
        d.set("workload", "txn_abort_percent", random.between(0, 20));
        added += added.empty() ? "transactions" : " transactions";
        if (w.group_members == 0 && random.chance(0.5)) {
            group_members = draw_group(random, d);
            d.table("workload").insert_or_assign("group_topics", toml::array{"side"});
            added += " group";
        }
        d.note("topics+", "side");
    }
    std::vector<std::string> allowances;
    if (!added.empty()) {
        d.note("workload+", added);
        // A read_uncommitted reader (a consumer, a group member) of transactional writers reads the records of
        // aborted transactions, as Kafka documents.
        const Allowance read_uncommitted{"aborted-read", "read-uncommitted"};
        if (transactional > 0 && (w.consumers > 0 || group_members > 0) &&
            std::find(base.checks.allowed.begin(), base.checks.allowed.end(), read_uncommitted) ==
                base.checks.allowed.end()) {
            allowances.emplace_back("aborted-read when read-uncommitted");
        }
    }
    // Transaction version 1 (no epoch bump per transaction, txn-version-1's cluster), now and then, where
    // transactional writers are the only transactions: a late request at the same epoch may then end part of
    // the next transaction (KAFKA-17754), which the allowances below excuse and nothing else. An application's
    // exactly-once output has no such excuse.
    if (transactional > 0 && !application && base.cluster.transaction_version == 2 && random.chance(0.2)) {
        d.set("cluster", "transaction_version", std::int64_t{1});
        for (const char* anomaly : {"aborted-read", "uncommitted-read", "torn-transaction", "poll-skip"}) {
            allowances.push_back(fmt::format("{} when late-request", anomaly));
        }
    }
    if (allowances.empty()) {
        return;
    }
    if (d.table("checks").get_as<toml::array>("allowed") == nullptr) {
        d.table("checks").insert_or_assign("allowed", toml::array{});
    }
    for (const std::string& allowance : allowances) {
        d.table("checks").get_as<toml::array>("allowed")->push_back(allowance);
    }
    d.note("checks.allowed+", fmt::format("{}", fmt::join(allowances, ", ")));
}

}  // namespace

SwarmDraw draw_swarm(std::uint64_t seed) {
    SwarmDraw draw;
    Drawer d(seed, draw);
    // The must-pass built-in scenarios: each a workload the simulated system must get right.
    std::vector<std::pair<std::string_view, std::string_view>> bases;
    for (const auto& [file, text] : builtin_spec_texts()) {
        const Spec* spec = find_builtin(std::string(file.substr(0, file.rfind('.'))));
        // txn-zombie times producer expiry against its writers' stalls (KAFKA-9144's setting): its knobs are the
        // scenario, and a send that meets an expired producer id is excused only at its own timing.
        if (spec != nullptr && spec->checks.weaknesses.empty() && spec->name != "txn-zombie") {
            bases.emplace_back(spec->name, text);
        }
    }
    EOSIM_ASSERT(!bases.empty());
    const auto& [name, text] = d.random().pick(bases);
    draw.base = std::string(name);
    d.note("base", draw.base);
    d.load(text, "scenarios/specs/" + draw.base + ".toml");
    const Spec& base = *find_builtin(draw.base);
    d.root().insert_or_assign("name", "swarm");
    d.root().insert_or_assign("description", fmt::format("swarm: drawn from {}", draw.base));
    const bool buggify = d.random().chance(0.75);
    d.root().insert_or_assign("buggify", buggify);
    d.note("buggify", buggify);
    draw_cluster(d, base);
    draw_workload(d, base);
    draw_faults(d, base);
    draw_more(sim::Random(seed).fork("swarm-more"), d, base);
    draw_workloads(sim::Random(seed).fork("swarm-workloads"), d, base);
    std::ostringstream out;
    out << d.root();
    draw.toml = out.str();
    return draw;
}

Spec swarm_spec(const SwarmDraw& draw, std::uint64_t seed) {
    Spec spec = parse_spec(draw.toml, fmt::format("swarm seed {} (from {})", seed, draw.base));
    spec.source = "swarm";
    return spec;
}

}  // namespace eosim::scenarios
