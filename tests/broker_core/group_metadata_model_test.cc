// A stateful RapidCheck test of one consumer group's metadata (broker_core/group_metadata.h) against a
// model of Kafka's classic group: random sequences of joins, removals, transitions, new generations,
// pending members and syncs, rejoins, leader elections and offset-commit checks. After each step the
// group must hold exactly what the model says, and accept exactly the calls the model allows. Reproduce a
// failure with RC_PARAMS="seed=N" build/release/tests/broker_core/broker_core_property_tests
// --gtest_filter='GroupMetadataModel*'.

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "broker_core/group_metadata.h"

namespace eosim::broker_core {
namespace {

using protocol::ErrorCode;
using State = GroupState;

// Kafka's classic group transitions (ClassicGroupState's documentation), as edges from -> to.
bool kafka_allows(State from, State to) {
    static const std::set<std::pair<State, State>> edges = {
        {State::empty, State::preparing_rebalance},
        {State::stable, State::preparing_rebalance},
        {State::completing_rebalance, State::preparing_rebalance},
        {State::preparing_rebalance, State::completing_rebalance},
        {State::preparing_rebalance, State::empty},
        {State::completing_rebalance, State::stable},
        {State::empty, State::dead},
        {State::stable, State::dead},
        {State::preparing_rebalance, State::dead},
        {State::completing_rebalance, State::dead},
        {State::dead, State::dead},
    };
    return edges.contains({from, to});
}

const std::vector<std::string> member_ids{"m1", "m2", "m3", "m4"};
const std::vector<std::string> protocol_names{"range", "roundrobin", "sticky"};

struct MemberModel {
    std::vector<std::string> protocols;
    bool awaiting_join = false;
};

struct Model {
    State state = State::empty;
    std::int32_t generation = 0;
    std::map<std::string, MemberModel> members;
    std::optional<std::string> leader;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::set<std::string> pending;
    std::set<std::string> pending_sync;
};

using System = GroupMetadata;
using Command = rc::state::Command<Model, System>;

bool supports(const MemberModel& member, const std::string& protocol) {
    return std::find(member.protocols.begin(), member.protocols.end(), protocol) != member.protocols.end();
}

// The protocol most members prefer among those all support; a tie goes to the lowest name.
std::optional<std::string> chosen_protocol(const Model& model) {
    std::map<std::string, int> votes;
    for (const auto& [id, member] : model.members) {
        for (const std::string& protocol : member.protocols) {
            const bool everyone = std::all_of(model.members.begin(), model.members.end(),
                                              [&protocol](const auto& entry) { return supports(entry.second, protocol); });
            if (everyone) {
                ++votes[protocol];
                break;
            }
        }
    }
    std::optional<std::string> best;
    for (const auto& [name, count] : votes) {
        if (!best || count > votes[*best]) {
            best = name;
        }
    }
    return best;
}

// The group must hold exactly the model's values.
void check_matches(const Model& model, const System& group) {
    RC_ASSERT(group.state() == model.state);
    RC_ASSERT(group.generation_id() == model.generation);
    RC_ASSERT(group.leader_id() == model.leader);
    RC_ASSERT(group.protocol_type() == model.protocol_type);
    RC_ASSERT(group.protocol_name() == model.protocol_name);
    RC_ASSERT(group.pending_sync_members() == model.pending_sync);
    RC_ASSERT(group.members().size() == model.members.size());
    std::size_t awaiting = 0;
    for (const auto& [id, member] : model.members) {
        const auto found = group.members().find(id);
        RC_ASSERT(found != group.members().end());
        RC_ASSERT(found->second.awaiting_join == member.awaiting_join);
        awaiting += member.awaiting_join ? 1U : 0U;
    }
    for (const std::string& id : member_ids) {
        RC_ASSERT(group.is_pending_member(id) == model.pending.contains(id));
    }
    RC_ASSERT(group.has_all_members_joined() == (awaiting == model.members.size() && model.pending.empty()));
    RC_ASSERT(group.can_rebalance() == kafka_allows(model.state, State::preparing_rebalance));
}

struct Join : Command {
    std::string id = *rc::gen::elementOf(member_ids);
    std::vector<std::string> protocols = *rc::gen::nonEmpty(
        rc::gen::unique<std::vector<std::string>>(rc::gen::elementOf(protocol_names)));
    bool awaiting = *rc::gen::arbitrary<bool>();

    void apply(Model& model) const override {
        if (model.members.contains(id)) {
            return;
        }
        if (model.members.empty()) {
            model.protocol_type = "consumer";
        }
        if (!model.leader) {
            model.leader = id;
        }
        model.pending.erase(id);
        model.members[id] = MemberModel{protocols, awaiting};
    }
    void run(const Model& model, System& group) const override {
        GroupMember member;
        member.member_id = id;
        member.rebalance_timeout_ms = 1000;
        member.session_timeout_ms = 1000;
        member.protocol_type = "consumer";
        for (const std::string& name : protocols) {
            member.protocols.push_back(GroupProtocol{name, "meta-" + name});
        }
        member.awaiting_join = awaiting;
        RC_ASSERT(group.add(member) == !model.members.contains(id));
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "Join(" << id << (awaiting ? ", awaiting" : "") << ")"; }
};

struct Remove : Command {
    std::string id = *rc::gen::elementOf(member_ids);

    void apply(Model& model) const override {
        model.members.erase(id);
        model.pending.erase(id);
        model.pending_sync.erase(id);
        if (model.leader == id) {
            model.leader = model.members.empty() ? std::nullopt : std::optional(model.members.begin()->first);
        }
    }
    void run(const Model& model, System& group) const override {
        group.remove(id);
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "Remove(" << id << ")"; }
};

// Dead is final, so it is asked for rarely (Die): the rest of a sequence would be spent on a dead group.
struct Transition : Command {
    State to = *rc::gen::weightedElement<State>({{4, State::empty},
                                                 {4, State::preparing_rebalance},
                                                 {4, State::completing_rebalance},
                                                 {4, State::stable},
                                                 {1, State::dead}});

    void apply(Model& model) const override {
        if (kafka_allows(model.state, to)) {
            model.state = to;
        }
    }
    void run(const Model& model, System& group) const override {
        RC_ASSERT(group.transition_to(to) == kafka_allows(model.state, to));
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "Transition(" << to_string(to) << ")"; }
};

// Kafka ends a join phase only from PreparingRebalance.
struct NextGeneration : Command {
    void checkPreconditions(const Model& model) const override {
        RC_PRE(model.state == State::preparing_rebalance);
    }
    void apply(Model& model) const override {
        ++model.generation;
        if (model.members.empty()) {
            model.protocol_name.reset();
            model.state = State::empty;
        } else {
            model.protocol_name = chosen_protocol(model);
            model.state = State::completing_rebalance;
        }
        model.pending_sync.clear();
    }
    void run(const Model& model, System& group) const override {
        group.init_next_generation();
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "NextGeneration"; }
};

struct AddPending : Command {
    std::string id = *rc::gen::elementOf(member_ids);

    void apply(Model& model) const override {
        if (!model.members.contains(id)) {
            model.pending.insert(id);
        }
    }
    void run(const Model& model, System& group) const override {
        RC_ASSERT(group.add_pending_member(id) == !model.members.contains(id));
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "AddPending(" << id << ")"; }
};

struct PendingSync : Command {
    std::string id = *rc::gen::elementOf(member_ids);
    bool add = *rc::gen::arbitrary<bool>();

    void apply(Model& model) const override {
        if (model.members.contains(id)) {
            if (add) {
                model.pending_sync.insert(id);
            } else {
                model.pending_sync.erase(id);
            }
        }
    }
    void run(const Model& model, System& group) const override {
        const bool answered = add ? group.add_pending_sync_member(id) : group.remove_pending_sync_member(id);
        RC_ASSERT(answered == model.members.contains(id));
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << (add ? "AddPendingSync(" : "RemovePendingSync(") << id << ")"; }
};

struct Rejoin : Command {
    std::string id = *rc::gen::elementOf(member_ids);
    bool awaiting = *rc::gen::arbitrary<bool>();

    void apply(Model& model) const override {
        if (const auto found = model.members.find(id); found != model.members.end()) {
            found->second.awaiting_join = awaiting;
        }
    }
    void run(const Model& model, System& group) const override {
        group.set_awaiting_join(id, awaiting);
        Model next = model;
        apply(next);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "Rejoin(" << id << ", " << awaiting << ")"; }
};

// Kafka's maybeElectNewJoinedLeader: a leader that did not rejoin gives way to the first member that did.
struct ElectJoinedLeader : Command {
    static std::optional<bool> expected(Model& model) {
        if (!model.leader) {
            return false;
        }
        const auto leader = model.members.find(*model.leader);
        if (leader != model.members.end() && leader->second.awaiting_join) {
            return true;
        }
        for (const auto& [id, member] : model.members) {
            if (member.awaiting_join) {
                model.leader = id;
                return true;
            }
        }
        return false;
    }
    void apply(Model& model) const override { (void)expected(model); }
    void run(const Model& model, System& group) const override {
        Model next = model;
        const std::optional<bool> answer = expected(next);
        RC_ASSERT(group.maybe_elect_new_joined_leader() == *answer);
        check_matches(next, group);
    }
    void show(std::ostream& out) const override { out << "ElectJoinedLeader"; }
};

// Kafka's validateOffsetCommit, written out from its rules.
struct CommitCheck : Command {
    std::string id = *rc::gen::elementOf(std::vector<std::string>{"", "m1", "m2", "m3", "m4"});
    std::int32_t generation = *rc::gen::inRange(-1, 4);
    bool transactional = *rc::gen::arbitrary<bool>();

    ErrorCode expected(const Model& model) const {
        if (model.state == State::dead) {
            return ErrorCode::coordinator_not_available;
        }
        const bool from_outside = id.empty() && generation < 0;
        if (from_outside && !transactional && model.state != State::empty) {
            return ErrorCode::unknown_member_id;
        }
        if (!from_outside && !model.members.contains(id)) {
            return ErrorCode::unknown_member_id;
        }
        if (!from_outside && generation != model.generation) {
            return ErrorCode::illegal_generation;
        }
        if (!transactional && model.state == State::completing_rebalance) {
            return ErrorCode::rebalance_in_progress;
        }
        return ErrorCode::none;
    }
    void apply(Model& /*model*/) const override {}
    void run(const Model& model, System& group) const override {
        RC_ASSERT(group.validate_offset_commit(id, generation, transactional) == expected(model));
        check_matches(model, group);
    }
    void show(std::ostream& out) const override {
        out << "CommitCheck(" << id << ", " << generation << (transactional ? ", txn" : "") << ")";
    }
};

RC_GTEST_PROP(GroupMetadataModel, AcceptsExactlyKafkasTransitionsAndEvolvesAsTheModelSays, ()) {
    const Model model;
    System group("g");
    // Long sequences from the first test on: the interesting states (a group that rebalanced several
    // times with members leaving in between) lie many steps deep.
    const auto commands = *rc::gen::resize(
        300, rc::state::gen::commands(
                 model, rc::state::gen::execOneOfWithArgs<Join, Join, Join, Remove, Transition, Transition,
                                                          Transition, NextGeneration, NextGeneration, AddPending,
                                                          PendingSync, Rejoin, Rejoin, ElectJoinedLeader,
                                                          CommitCheck, CommitCheck>()));
    rc::state::runAll(commands, model, group);
}

// Kafka breaks a tie by hash order (its test accepts either); eosim must be deterministic.
TEST(GroupMetadata, ATieGoesToTheLowestProtocolName) {
    GroupMetadata group("g");
    for (const auto& [id, first, second] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"m1", "sticky", "range"}, {"m2", "range", "sticky"}}) {
        GroupMember member;
        member.member_id = id;
        member.protocol_type = "consumer";
        member.protocols = {GroupProtocol{first, ""}, GroupProtocol{second, ""}};
        ASSERT_TRUE(group.add(member));
    }
    EXPECT_EQ(group.select_protocol(), "range");
}

}  // namespace
}  // namespace eosim::broker_core
