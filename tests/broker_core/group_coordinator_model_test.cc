// A stateful RapidCheck test of the group coordinator (broker_core/group_coordinator.h) against a model of
// one classic group: random sequences of rebalance rounds (new members get their ids, then every joiner
// joins at once; members that do not rejoin are removed at the rebalance timeout), syncs, heartbeats,
// members that fall silent past their session, leaves, offset commits (of members, of stale generations,
// of outsiders) and offset fetches. The coordinator runs in a one-node simulation over an in-memory
// offsets log, so its waits, deadlines and expiry loop run for real. After each step the answers must be
// the model's. Reproduce a failure with RC_PARAMS="seed=N"
// build/release/tests/broker_core/broker_core_property_tests --gtest_filter='GroupCoordinatorModel*'.

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker_core/group_coordinator.h"
#include "sim/simulation.h"
#include "tests/broker_core/coordinator_harness.h"

namespace eosim::broker_core {
namespace {

using namespace std::chrono_literals;
using protocol::ErrorCode;

constexpr int slots = 3;                       // clients c0..c2
constexpr std::int32_t session_ms = 1000;      // every member's session timeout
constexpr std::int32_t rebalance_ms = 2000;    // and rebalance timeout
const protocol::TopicPartition partition{"t", 0};

enum class GroupPhase { none, empty, preparing, stable };

struct Model {
    GroupPhase phase = GroupPhase::none;  // none: the group does not exist yet
    std::int32_t generation = 0;
    std::set<int> members;          // slots that are members
    std::set<int> stale;            // slots holding the id of a member that was removed
    std::int64_t committed = -1;
    int rounds = 0;                 // each round's subscriptions differ, so every rejoin rebalances
};

struct System : test_harness::CoordinatorHarness {
    // The same as the harness's, but failing the property when the answer does not come.
    template <typename Response, typename Request>
    Response call(const Request& request, sim::Duration limit = 5s) {
        const std::optional<Response> answer = CoordinatorHarness::call<Response>(request, limit);
        RC_ASSERT(answer.has_value());
        return *answer;
    }
    void run_until(const std::function<bool()>& done, sim::Duration limit) {
        RC_ASSERT(CoordinatorHarness::run_until(done, limit));
    }

    protocol::JoinGroupRequest join_request(int slot, int round) const {
        protocol::JoinGroupRequest request{.group_id = "g",
                                           .client_id = "c" + std::to_string(slot),
                                           .session_timeout_ms = session_ms,
                                           .rebalance_timeout_ms = rebalance_ms,
                                           .member_id = ids[static_cast<std::size_t>(slot)],
                                           .protocol_type = "consumer"};
        request.protocols.push_back(protocol::JoinGroupProtocol{"range", "round-" + std::to_string(round)});
        return request;
    }

    ErrorCode heartbeat(int slot) {
        return call<protocol::HeartbeatResponse>(
                   protocol::HeartbeatRequest{"g", generations[static_cast<std::size_t>(slot)],
                                              ids[static_cast<std::size_t>(slot)]})
            .error;
    }

    ErrorCode commit(int slot, std::int32_t generation, std::int64_t offset) {
        const auto answer = call<protocol::OffsetCommitResponse>(protocol::OffsetCommitRequest{
            "g", generation, slot < 0 ? "" : ids[static_cast<std::size_t>(slot)],
            {protocol::OffsetCommitPartition{partition, offset}}});
        return answer.partitions.at(0).error;
    }

    std::vector<std::string> ids = std::vector<std::string>(slots);
    std::vector<std::int32_t> generations = std::vector<std::int32_t>(slots, -1);
};

using Command = rc::state::Command<Model, System>;

// A member leaves or expires: the others must rejoin; alone, the group is Empty in the next generation.
void remove_member(Model& model, int slot) {
    model.members.erase(slot);
    model.stale.insert(slot);
    if (model.members.empty()) {
        model.phase = GroupPhase::empty;
        ++model.generation;
    } else {
        model.phase = GroupPhase::preparing;
    }
}

// What a member's heartbeat must get in the model's state.
ErrorCode expected_heartbeat(const Model& model, int slot) {
    if (!model.members.contains(slot)) {
        return ErrorCode::unknown_member_id;
    }
    return model.phase == GroupPhase::preparing ? ErrorCode::rebalance_in_progress : ErrorCode::none;
}

// Every member heartbeats (but `silent`): sessions never lapse between commands unless a command wants it.
void keep_alive(const Model& model, System& system, std::optional<int> silent = std::nullopt) {
    for (const int slot : model.members) {
        if (slot != silent) {
            RC_ASSERT(system.heartbeat(slot) == expected_heartbeat(model, slot));
        }
    }
}

// A rebalance round: the joiners without a valid id get one (MEMBER_ID_REQUIRED), then all join at once;
// members that do not rejoin are removed at the rebalance timeout; the leader assigns, everyone syncs.
struct Round : Command {
    std::set<int> joiners = *rc::gen::nonEmpty(rc::gen::container<std::set<int>>(rc::gen::inRange(0, slots)));

    void apply(Model& model) const override {
        for (const int slot : model.members) {
            if (!joiners.contains(slot)) {
                model.stale.insert(slot);
            }
        }
        for (const int slot : joiners) {
            model.stale.erase(slot);
        }
        model.members = joiners;
        model.phase = GroupPhase::stable;
        ++model.generation;
        ++model.rounds;
    }
    void run(const Model& model, System& system) const override {
        // The leader before the round (the model cannot know which member the coordinator made leader).
        std::optional<std::string> previous_leader;
        if (const GroupMetadata* group = system.coordinator().find("g"); group != nullptr && !group->members().empty()) {
            previous_leader = group->leader_id();
        }
        for (const int slot : joiners) {
            if (!model.members.contains(slot)) {
                system.ids[static_cast<std::size_t>(slot)].clear();  // new, or removed: it joins as new
                const auto first = system.call<protocol::JoinGroupResponse>(system.join_request(slot, model.rounds));
                RC_ASSERT(first.error == ErrorCode::member_id_required);
                system.ids[static_cast<std::size_t>(slot)] = first.member_id;
            }
        }
        std::map<int, protocol::JoinGroupResponse> joined;
        for (const int slot : joiners) {
            system.node->spawn("join", [&system, &joined, slot, request = system.join_request(slot, model.rounds)] {
                joined[slot] = system.coordinator().handle(sim::make_message(request))->as<protocol::JoinGroupResponse>();
            });
        }
        system.run_until([&] { return joined.size() == joiners.size(); }, std::chrono::milliseconds(rebalance_ms + 1000));
        std::optional<int> leader;
        for (const auto& [slot, answer] : joined) {
            RC_ASSERT(answer.error == ErrorCode::none);
            RC_ASSERT(answer.generation_id == model.generation + 1);
            RC_ASSERT(answer.member_id == system.ids[static_cast<std::size_t>(slot)]);
            system.generations[static_cast<std::size_t>(slot)] = answer.generation_id;
            if (answer.leader == answer.member_id) {
                RC_ASSERT(!leader.has_value());
                leader = slot;
                RC_ASSERT(answer.members.size() == joiners.size());
            } else {
                RC_ASSERT(answer.members.empty());
            }
        }
        RC_ASSERT(leader.has_value());
        for (const int slot : joiners) {
            if (previous_leader && model.members.contains(slot) &&
                system.ids[static_cast<std::size_t>(slot)] == *previous_leader) {
                RC_ASSERT(*leader == slot);  // a leader that rejoins stays the leader
            }
        }
        // Followers' syncs wait for the leader's.
        std::map<int, protocol::SyncGroupResponse> synced;
        const auto sync = [&](int slot, std::vector<protocol::SyncGroupAssignment> assignments) {
            protocol::SyncGroupRequest request{"g", model.generation + 1, system.ids[static_cast<std::size_t>(slot)],
                                               "consumer", "range", std::move(assignments)};
            system.node->spawn("sync", [&system, &synced, slot, request] {
                synced[slot] = system.coordinator().handle(sim::make_message(request))->as<protocol::SyncGroupResponse>();
            });
        };
        for (const int slot : joiners) {
            if (slot != *leader) {
                sync(slot, {});
            }
        }
        system.run_for(50ms);
        RC_ASSERT(synced.empty());
        std::vector<protocol::SyncGroupAssignment> assignments;
        for (const int slot : joiners) {
            assignments.push_back({system.ids[static_cast<std::size_t>(slot)], "a" + std::to_string(slot)});
        }
        sync(*leader, assignments);
        system.run_until([&] { return synced.size() == joiners.size(); }, 1s);
        for (const auto& [slot, answer] : synced) {
            RC_ASSERT(answer.error == ErrorCode::none);
            RC_ASSERT(answer.assignment == "a" + std::to_string(slot));
        }
        Model next = model;
        apply(next);
        keep_alive(next, system);
        const GroupMetadata* group = system.coordinator().find("g");
        RC_ASSERT(group != nullptr && group->is(GroupState::stable));
        RC_ASSERT(group->generation_id() == next.generation);
        RC_ASSERT(group->members().size() == joiners.size());
    }
    void show(std::ostream& out) const override {
        out << "Round(";
        for (const int slot : joiners) {
            out << " c" << slot;
        }
        out << " )";
    }
};

// Idle time (below the session timeout) with every member heartbeating. Not while a rebalance waits: its
// members do not rejoin here, and would be removed at the rebalance timeout.
struct Idle : Command {
    int steps = *rc::gen::inRange(1, 6);  // 100 ms each

    void checkPreconditions(const Model& model) const override {
        RC_PRE(model.phase != GroupPhase::none && model.phase != GroupPhase::preparing);
    }
    void apply(Model&) const override {}
    void run(const Model& model, System& system) const override {
        for (int i = 0; i < steps; ++i) {
            system.run_for(100ms);
            keep_alive(model, system);
        }
    }
    void show(std::ostream& out) const override { out << "Idle(" << steps * 100 << " ms)"; }
};

// A stable member falls silent: 1.5 s later the coordinator removed it, and the others (still
// heartbeating) are told to rejoin; alone, the group is Empty in the next generation.
struct Silence : Command {
    int slot = *rc::gen::inRange(0, slots);

    void checkPreconditions(const Model& model) const override {
        RC_PRE(model.phase == GroupPhase::stable && model.members.contains(slot));
    }
    void apply(Model& model) const override { remove_member(model, slot); }
    void run(const Model& model, System& system) const override {
        for (int i = 0; i < 15; ++i) {
            system.run_for(100ms);
            for (const int other : model.members) {
                if (other != slot) {
                    const ErrorCode error = system.heartbeat(other);
                    RC_ASSERT(error == ErrorCode::none || error == ErrorCode::rebalance_in_progress);
                }
            }
        }
        Model next = model;
        apply(next);
        keep_alive(next, system);
        RC_ASSERT(system.heartbeat(slot) == ErrorCode::unknown_member_id);
    }
    void show(std::ostream& out) const override { out << "Silence(c" << slot << ")"; }
};

struct Leave : Command {
    int slot = *rc::gen::inRange(0, slots);

    void checkPreconditions(const Model& model) const override { RC_PRE(model.members.contains(slot)); }
    void apply(Model& model) const override { remove_member(model, slot); }
    void run(const Model& model, System& system) const override {
        const auto answer = system.call<protocol::LeaveGroupResponse>(
            protocol::LeaveGroupRequest{"g", system.ids[static_cast<std::size_t>(slot)], "test"});
        RC_ASSERT(answer.error == ErrorCode::none);
        Model next = model;
        apply(next);
        keep_alive(next, system);
        const GroupMetadata* group = system.coordinator().find("g");
        RC_ASSERT(group->generation_id() == next.generation);
        RC_ASSERT(group->is(next.phase == GroupPhase::empty ? GroupState::empty : GroupState::preparing_rebalance));
    }
    void show(std::ostream& out) const override { out << "Leave(c" << slot << ")"; }
};

// A commit by a slot in its generation (a member: taken; a removed member: UNKNOWN_MEMBER_ID), in the
// generation before (ILLEGAL_GENERATION), or from outside the group (taken only while the group is Empty).
struct Commit : Command {
    int slot = *rc::gen::inRange(-1, slots);  // -1: from outside the group
    bool stale_generation = *rc::gen::arbitrary<bool>();
    std::int64_t offset = *rc::gen::inRange<std::int64_t>(0, 1000);

    void checkPreconditions(const Model& model) const override {
        RC_PRE(model.phase != GroupPhase::none);
        RC_PRE(slot < 0 || model.members.contains(slot) || model.stale.contains(slot));
        RC_PRE(!stale_generation || (slot >= 0 && model.members.contains(slot) && model.generation > 1));
    }
    [[nodiscard]] ErrorCode expected(const Model& model) const {
        if (slot < 0) {
            return model.phase == GroupPhase::empty ? ErrorCode::none : ErrorCode::unknown_member_id;
        }
        if (!model.members.contains(slot)) {
            return ErrorCode::unknown_member_id;
        }
        return stale_generation ? ErrorCode::illegal_generation : ErrorCode::none;
    }
    void apply(Model& model) const override {
        if (expected(model) == ErrorCode::none) {
            model.committed = offset;
        }
    }
    void run(const Model& model, System& system) const override {
        std::int32_t generation = slot < 0 ? protocol::no_generation : system.generations[static_cast<std::size_t>(slot)];
        if (stale_generation) {
            --generation;
        }
        RC_ASSERT(system.commit(slot, generation, offset) == expected(model));
        keep_alive(model, system);
    }
    void show(std::ostream& out) const override {
        out << "Commit(" << (slot < 0 ? std::string("outsider") : "c" + std::to_string(slot))
            << (stale_generation ? ", stale generation" : "") << ", " << offset << ")";
    }
};

struct Fetch : Command {
    void checkPreconditions(const Model& model) const override { RC_PRE(model.phase != GroupPhase::none); }
    void apply(Model&) const override {}
    void run(const Model& model, System& system) const override {
        const auto answer =
            system.call<protocol::OffsetFetchResponse>(protocol::OffsetFetchRequest{"g", {partition}, true});
        RC_ASSERT(answer.error == ErrorCode::none);
        RC_ASSERT(answer.partitions.at(0).error == ErrorCode::none);
        RC_ASSERT(answer.partitions.at(0).offset == model.committed);
        keep_alive(model, system);
    }
    void show(std::ostream& out) const override { out << "Fetch"; }
};

RC_GTEST_PROP(GroupCoordinatorModel, RebalancesExpiresAndCommitsAsTheModelSays, ()) {
    const Model model;
    System system;
    const auto commands = *rc::gen::resize(
        60, rc::state::gen::commands(model, rc::state::gen::execOneOfWithArgs<Round, Round, Idle, Silence, Leave, Commit,
                                                                             Commit, Fetch>()));
    rc::state::runAll(commands, model, system);
}

}  // namespace
}  // namespace eosim::broker_core
