#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "model/checkers.h"
#include "model/history.h"

namespace eosim::model {
namespace {

// The example of docs/history-format.md.
constexpr std::string_view documented_example =
    R"({"kind":"meta","format":1})"
    "\n"
    R"({"kind":"op","index":1,"time":1000000,"process":"producer-1","type":"invoke",)"
    R"("f":"send","partition":"orders-0","value":"p1-0","key":"k0","acks":"all"})"
    "\n"
    R"({"kind":"op","index":2,"time":1200000,"process":"producer-1","type":"ok",)"
    R"("f":"send","partition":"orders-0","value":"p1-0","key":"k0","acks":"all","offset":0})"
    "\n"
    R"({"kind":"op","index":3,"time":1300000,"process":"producer-1","type":"invoke",)"
    R"("f":"send","partition":"orders-0","value":"p1-1","acks":"all"})"
    "\n"
    R"({"kind":"op","index":4,"time":2300000,"process":"producer-1","type":"info",)"
    R"("f":"send","partition":"orders-0","value":"p1-1","acks":"all","error":"request timed out"})"
    "\n"
    R"({"kind":"op","index":5,"time":2400000,"process":"consumer-1","type":"ok",)"
    R"("f":"assign","partition":"orders-0","offset":0})"
    "\n"
    R"({"kind":"op","index":6,"time":2500000,"process":"consumer-1","type":"invoke",)"
    R"("f":"poll","partition":"orders-0"})"
    "\n"
    R"({"kind":"op","index":7,"time":2600000,"process":"consumer-1","type":"ok",)"
    R"("f":"poll","partition":"orders-0","records":[[0,"p1-0"],[1,"p1-1"]]})"
    "\n"
    R"({"kind":"op","index":8,"time":2700000,"process":"consumer-1","type":"ok",)"
    R"("f":"seek","partition":"orders-0","offset":1})"
    "\n"
    R"({"kind":"replica","partition":"orders-0","replica":"broker-1",)"
    R"("leader":true,"log_start_offset":0,"high_watermark":2,"log_end_offset":2,"records":[[0,"p1-0"],[1,"p1-1"]]})"
    "\n"
    R"({"kind":"replica","partition":"orders-0","replica":"broker-2",)"
    R"("leader":false,"log_start_offset":0,"high_watermark":1,"log_end_offset":1,"records":[[0,"p1-0"]]})"
    "\n";

History read_text(const std::string& text) {
    std::istringstream input(text);
    return read_history(input);
}

std::string write_text(const History& history) {
    std::ostringstream output;
    write_history(output, history);
    return output.str();
}

History every_field_history() {
    History history;
    Operation send{.index = 12,
                   .time = 1500000,
                   .process = "producer-1",
                   .type = OpType::ok,
                   .f = "send",
                   .partition = "orders-0",
                   .value = "p1-17",
                   .key = "k3",
                   .acks = Acks::leader,
                   .offset = 42,
                   .records = std::nullopt,
                   .reason = std::nullopt,
                   .error = std::nullopt};
    history.operations.push_back(send);
    Operation poll{.index = 20, .time = -5, .process = "consumer-1", .type = OpType::ok, .f = "poll"};
    poll.partition = "orders-0";
    poll.records = std::vector<Record>{{42, "p1-17"}, {43, "with \"quotes\" and\nnewline"}};
    history.operations.push_back(poll);
    Operation failed{.index = 21, .time = 1, .process = "producer-2", .type = OpType::fail, .f = "send"};
    failed.partition = "orders-1";
    failed.value = "p2-0";
    failed.acks = Acks::none;
    failed.error = "not leader";
    history.operations.push_back(failed);
    Operation custom{.index = 22, .time = 2, .process = "admin", .type = OpType::invoke, .f = "create-topic"};
    history.operations.push_back(custom);
    Operation stuck{.index = 99, .time = 9000000, .process = "runner", .type = OpType::info, .f = "stuck"};
    stuck.reason = "workload did not finish within 60 s after healing";
    history.operations.push_back(stuck);
    history.replicas.push_back(ReplicaState{.partition = "orders-0",
                                            .replica = "broker-1",
                                            .leader = true,
                                            .log_start_offset = 0,
                                            .high_watermark = 44,
                                            .log_end_offset = 45,
                                            .records = {{0, "p1-0"}, {1, "p2-0"}}});
    history.replicas.push_back(ReplicaState{.partition = "orders-0", .replica = "broker-2"});
    history.removals.push_back(Removal{.time = 3000000, .partition = "orders-0", .replica = "broker-2",
                                       .cause = "delete-records", .from = 0, .to = 12, .high_watermark = 30,
                                       .limit = 12});
    history.removals.push_back(Removal{.time = 3000001, .partition = "orders-0", .replica = "broker-1",
                                       .cause = "retention", .from = 0, .to = 10, .high_watermark = 30});
    history.removals.push_back(Removal{.time = 9000002, .partition = "users-0", .replica = "broker-1",
                                       .cause = "cleaner", .from = 5, .to = 6, .high_watermark = 8, .key = "carol",
                                       .timestamp_ms = 100, .removed_at_ms = 7000, .delete_retention_ms = 6000,
                                       .latest = true});
    // A compacted topic: records with keys, a tombstone send and a tombstone record.
    Operation tombstone{.index = 100, .time = 9000001, .process = "producer-3", .type = OpType::ok, .f = "send"};
    tombstone.partition = "users-0";
    tombstone.key = "alice";
    tombstone.acks = Acks::all;
    tombstone.offset = 7;
    history.operations.push_back(tombstone);
    history.replicas.push_back(ReplicaState{.partition = "users-0",
                                            .replica = "broker-1",
                                            .leader = true,
                                            .compacted = true,
                                            .log_start_offset = 0,
                                            .high_watermark = 8,
                                            .log_end_offset = 8,
                                            .records = {{3, "bob-2", "bob"}, {7, std::nullopt, "alice"}},
                                            .batches = {{.base_offset = 3,
                                                         .last_offset = 3,
                                                         .leader_epoch = 2,
                                                         .producer_id = 1000,
                                                         .producer_epoch = 1,
                                                         .base_sequence = 2147483647,
                                                         .transactional = false,
                                                         .control = false},
                                                        {.base_offset = 7, .last_offset = 7, .leader_epoch = 3}}});
    history.operations.back().attempts = 2;
    // A stream application's input (records with timestamps, one without a key) and a transaction's marker.
    history.replicas.push_back(ReplicaState{.partition = "lines-0",
                                            .replica = "broker-1",
                                            .leader = true,
                                            .log_start_offset = 0,
                                            .high_watermark = 3,
                                            .log_end_offset = 3,
                                            .records = {{0, "a b", "k", 1700000000000}, {1, "c", std::nullopt, 5}},
                                            .batches = {{.base_offset = 0, .last_offset = 1, .producer_id = 4,
                                                         .transactional = true},
                                                        {.base_offset = 2, .last_offset = 2, .producer_id = 4,
                                                         .transactional = true, .control = true, .marker = "commit"}}});
    history.health.push_back(HealthChange{.time = 50000000, .healthy = true});
    history.health.push_back(HealthChange{.time = 2500000000, .healthy = false});
    return history;
}

TEST(History, WriteThenReadGivesTheSameHistory) {
    const History history = every_field_history();
    const std::string text = write_text(history);
    EXPECT_EQ(read_text(text), history);
    EXPECT_EQ(write_text(read_text(text)), text);
}

TEST(History, WritesOneLinePerOperationReplicaRemovalAndHealthChange) {
    const std::string text = write_text(every_field_history());
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 16);
    EXPECT_EQ(text.rfind(R"({"kind":"meta","format":1})" "\n", 0), 0u) << "the format's version comes first";
    EXPECT_NE(text.find(R"({"kind":"health","time":2500000000,"healthy":false})"), std::string::npos);
    EXPECT_NE(text.find(R"("cause":"cleaner","from":5,"to":6,"high_watermark":8,"key":"carol","timestamp_ms":100,)"
                        R"("removed_at_ms":7000,"delete_retention_ms":6000,"latest":true})"),
              std::string::npos);
    EXPECT_NE(text.find(R"({"kind":"removal","time":3000000,"partition":"orders-0","replica":"broker-2",)"
                        R"("cause":"delete-records","from":0,"to":12,"high_watermark":30,"limit":12})"),
              std::string::npos);
    EXPECT_NE(text.find(R"("cause":"retention","from":0,"to":10,"high_watermark":30})"), std::string::npos)
        << "no limit on a retention line";
    EXPECT_NE(text.find(R"("value":null)"), std::string::npos);
    EXPECT_NE(text.find(R"([7,null,"alice"])"), std::string::npos);
    EXPECT_NE(text.find(R"("compacted":true)"), std::string::npos);
    EXPECT_NE(text.find(R"("records":[[0,"a b","k",1700000000000],[1,"c",null,5]])"), std::string::npos);
    EXPECT_NE(text.find(R"([2,2,0,4,-1,-1,true,true,"commit"])"), std::string::npos);
}

TEST(History, WritesFieldsInTheDocumentedOrder) {
    History history;
    history.operations.push_back(Operation{.index = 12,
                                           .time = 1500000,
                                           .process = "producer-1",
                                           .type = OpType::invoke,
                                           .f = "send",
                                           .partition = "orders-0",
                                           .value = "p1-17",
                                           .key = "k3",
                                           .acks = Acks::all});
    EXPECT_EQ(write_text(history),
              R"({"kind":"meta","format":1})"
              "\n"
              R"({"kind":"op","index":12,"time":1500000,"process":"producer-1","type":"invoke","f":"send",)"
              R"("partition":"orders-0","value":"p1-17","key":"k3","acks":"all"})"
              "\n");
}

TEST(History, TheFormatsVersionIsReadAndANewerOneRefused) {
    EXPECT_EQ(read_text(R"({"kind":"meta","format":1})" "\n").operations.size(), 0u);
    try {
        read_text("\n" R"({"kind":"meta","format":2})" "\n");
        FAIL() << "a history of format 2 was read";
    } catch (const HistoryError& error) {
        EXPECT_EQ(std::string(error.what()),
                  R"(line 2: "format" 2 is not one this eosim reads (1 to 1); a newer eosim wrote it?)");
    }
    // A history without the line (eosim wrote none before format 1 had one) reads as format 1.
    const std::string without = std::string(documented_example.substr(documented_example.find('\n') + 1));
    EXPECT_EQ(read_text(without), read_text(std::string(documented_example)));
}

TEST(History, ReadsTheDocumentedExample) {
    const History history = read_text(std::string(documented_example));
    ASSERT_EQ(history.operations.size(), 8U);
    ASSERT_EQ(history.replicas.size(), 2U);
    const Operation& acked = history.operations[1];
    EXPECT_EQ(acked.index, 2U);
    EXPECT_EQ(acked.time, 1200000);
    EXPECT_EQ(acked.process, "producer-1");
    EXPECT_EQ(acked.type, OpType::ok);
    EXPECT_EQ(acked.f, "send");
    EXPECT_EQ(acked.key, "k0");
    EXPECT_EQ(acked.acks, Acks::all);
    EXPECT_EQ(acked.offset, 0);
    EXPECT_EQ(history.operations[3].type, OpType::info);
    EXPECT_EQ(history.operations[3].error, "request timed out");
    EXPECT_EQ(history.operations[6].records, (std::vector<Record>{{0, "p1-0"}, {1, "p1-1"}}));
    const ReplicaState& follower = history.replicas[1];
    EXPECT_EQ(follower.replica, "broker-2");
    EXPECT_FALSE(follower.leader);
    EXPECT_EQ(follower.high_watermark, 1);
    EXPECT_EQ(follower.log_end_offset, 1);
    EXPECT_EQ(write_text(history), documented_example);
}

// The JSON lines of docs/history-format.md's example section.
std::string example_of_the_format_doc() {
    std::ifstream doc(std::string(EOSIM_SOURCE_DIR) + "/docs/history-format.md");
    EXPECT_TRUE(doc.is_open());
    std::string line;
    std::string example;
    bool in_example = false;
    while (std::getline(doc, line)) {
        in_example = in_example || line == "## Example";
        if (in_example && line.rfind("{\"kind\"", 0) == 0) {
            example += line + "\n";
        }
    }
    return example;
}

TEST(History, TheFormatDocShowsTheExampleThisTestReads) {
    const std::string doc_example = example_of_the_format_doc();
    EXPECT_EQ(doc_example.substr(0, documented_example.size()), documented_example);
    const History history = read_text(doc_example);
    EXPECT_EQ(history.operations.size(), 9U);
    EXPECT_EQ(history.operations.back().f, "stuck");
}

// The JSON lines of docs/history-format.md's transactions section.
std::string transactions_example_of_the_format_doc() {
    std::ifstream doc(std::string(EOSIM_SOURCE_DIR) + "/docs/history-format.md");
    EXPECT_TRUE(doc.is_open());
    std::string line;
    std::string example;
    bool in_section = false;
    while (std::getline(doc, line)) {
        if (line.rfind("## ", 0) == 0 || line.rfind("### ", 0) == 0) {
            in_section = line == "### Transactions";
        }
        if (in_section && line.rfind("{\"kind\"", 0) == 0) {
            example += line + "\n";
        }
    }
    return example;
}

TEST(History, TheFormatDocsTransactionExampleReadsBackAndIsClean) {
    const History history = read_text(transactions_example_of_the_format_doc());
    ASSERT_EQ(history.operations.size(), 8U);
    EXPECT_EQ(history.operations[0].timeout_ms, 10'000);
    EXPECT_EQ(history.operations[2].txn, "txn-producer-1-t1");
    EXPECT_EQ(history.operations[7].isolation, "read_committed");
    ASSERT_EQ(history.replicas.size(), 1U);
    EXPECT_TRUE(history.replicas[0].batches[1].control);
    EXPECT_TRUE(check(history).empty());
}

TEST(History, IgnoresUnknownFieldsAndBlankLines) {
    const History history = read_text(
        "\n"
        R"({"kind":"op","index":1,"time":0,"process":"c","type":"ok","f":"seek","partition":"t-0",)"
        R"("offset":3,"new":[1]})"
        "\n   \n"
        R"({"kind":"op","index":2,"time":0,"process":"c","type":"ok","f":"rebalance","generation":7})"
        "\n");
    ASSERT_EQ(history.operations.size(), 2U);
    EXPECT_EQ(history.operations[0].offset, 3);
    EXPECT_EQ(history.operations[1].f, "rebalance");
}

TEST(History, EmptyInputIsAnEmptyHistory) {
    EXPECT_EQ(read_text(""), History{});
}

struct MalformedCase {
    std::string line;
    std::string message;  // the whole what() after "line 3: " when exact, else a part of it
    bool exact = false;
};

std::vector<MalformedCase> malformed_cases() {
    const std::string op = R"({"kind":"op","index":3,"time":0,"process":"c","type":"ok",)";
    const std::string replica = R"({"kind":"replica","partition":"t-0","replica":"b1",)";
    return {
        {R"({"kind":"op","index":3,)", "malformed JSON at byte"},
        {R"({"kind":"op"} trailing)", "malformed JSON at byte"},
        {R"([1, 2])", "a line must be a JSON object", true},
        {R"({"index":3,"time":0,"process":"c","type":"ok","f":"x"})", R"(missing "kind")", true},
        {R"({"kind":"snapshot"})", R"("kind" must be one of meta, op, replica, removal, health, clock)", true},
        {R"({"kind":"meta","format":1})", "the meta line must be the history's first line", true},
        {R"({"kind":"removal","time":1,"partition":"t-0","replica":"broker-1","cause":"retention","from":5,"to":4,)"
         R"("high_watermark":9})",
         R"("to" must not be below "from")", true},
        {R"({"kind":"health","time":5})", R"(missing "healthy")", true},
        {R"({"kind":"health","time":5,"healthy":1})", R"("healthy" must be true or false)", true},
        {R"({"kind":"health","healthy":true})", R"(missing "time")", true},
        {R"({"kind":"op","index":3,"time":0,"type":"ok","f":"x"})", R"(missing "process")", true},
        {R"({"kind":"op","index":3,"time":0,"process":"p","type":"ok","f":"begin"})", R"(missing "txn")", true},
        {R"({"kind":"op","index":3,"time":0,"process":"p","type":"invoke","f":"init-txn"})",
         R"(missing "transactional_id")", true},
        {R"({"kind":"op","index":3,"process":"c","type":"ok","f":"x"})", R"(missing "time")", true},
        {R"({"kind":"op","index":3,"time":"soon","process":"c","type":"ok","f":"x"})", R"("time" must be an integer)",
         true},
        {R"({"kind":"op","index":3,"time":1.5,"process":"c","type":"ok","f":"x"})", R"("time" must be an integer)",
         true},
        {R"({"kind":"op","index":-3,"time":0,"process":"c","type":"ok","f":"x"})",
         R"("index" must be a non-negative integer)", true},
        {R"({"kind":"op","index":3,"time":0,"process":7,"type":"ok","f":"x"})", R"("process" must be a string)", true},
        {R"({"kind":"op","index":3,"time":0,"process":"c","type":"done","f":"x"})",
         R"("type" must be one of invoke, ok, fail, info)", true},
        {op + R"("f":"send","partition":"t-0","value":"v","acks":"2"})", R"("acks" must be one of "all", "1", "0")",
         true},
        {op + R"("f":"send","partition":"t-0","value":"v","acks":1})", R"("acks" must be a string)", true},
        {op + R"("f":"send","partition":"t-0","acks":"all"})", R"(missing "value")", true},
        {op + R"("f":"poll","partition":"t-0"})", R"(missing "records")", true},
        {op + R"("f":"poll","partition":"t-0","records":[[0,"a"],[1]]})",
         R"("records"[1] must be [offset, value], [offset, value, key] or [offset, value, key, timestamp] (integer, string or null, string (or null with a timestamp), integer))", true},
        {op + R"("f":"poll","partition":"t-0","records":[[0,"a","k",4,5]]})",
         R"("records"[0] must be [offset, value], [offset, value, key] or [offset, value, key, timestamp] (integer, string or null, string (or null with a timestamp), integer))", true},
        {op + R"("f":"poll","partition":"t-0","records":[[0,"a","k","4"]]})", R"("records"[0] timestamp must be an integer)",
         true},
        {op + R"("f":"send","partition":"t-0","value":null,"acks":"all"})", R"(a tombstone ("value": null) needs a "key")",
         true},
        {op + R"("f":"poll","partition":"t-0","records":{"0":"a"}})",
         R"("records" must be an array of [offset, value], [offset, value, key] or [offset, value, key, timestamp] arrays)",
         true},
        {op + R"("f":"seek","partition":"t-0"})", R"(missing "offset")", true},
        {op + R"("f":"assign","offset":4})", R"(missing "partition")", true},
        {op + R"("f":"seek","partition":"t-0","offset":9223372036854775808})",
         R"("offset" is out of the range of a 64-bit signed integer)", true},
        {R"({"kind":"op","index":2,"time":0,"process":"c","type":"ok","f":"x"})",
         R"("index" 2 is not greater than the previous operation's index 2)", true},
        {replica + R"("leader":"yes","log_start_offset":0,"high_watermark":0,"log_end_offset":0,"records":[]})",
         R"("leader" must be true or false)", true},
        {replica + R"("leader":true,"log_start_offset":0,"log_end_offset":0,"records":[]})",
         R"(missing "high_watermark")", true},
        {replica + R"("leader":true,"log_start_offset":0,"high_watermark":0,"log_end_offset":0,"records":[],)"
                   R"("batches":[[0,0,1,-1,-1,-1,false]]})",
         R"("batches"[0] must be [base_offset, last_offset, leader_epoch, producer_id, producer_epoch, base_sequence, )"
         R"(transactional, control] or those and "commit" or "abort")",
         true},
        {replica + R"("leader":true,"log_start_offset":0,"high_watermark":0,"log_end_offset":0,"records":[],)"
                   R"("batches":[[0,0,1,-1,-1,-1,true,true,"maybe"]]})",
         R"("batches"[0] must be [base_offset, last_offset, leader_epoch, producer_id, producer_epoch, base_sequence, )"
         R"(transactional, control] or those and "commit" or "abort")",
         true},
        {op + R"("f":"send","partition":"t-0","value":"v","acks":"all","attempts":0})",
         R"("attempts" must be at least 1)", true},
    };
}

TEST(History, EachMalformedLineThrowsWithItsLineNumberOnOneLine) {
    const std::string good_lines = R"({"kind":"op","index":1,"time":0,"process":"p","type":"invoke","f":"send",)"
                                   R"("partition":"t-0","value":"v","acks":"all"})"
                                   "\n"
                                   R"({"kind":"op","index":2,"time":0,"process":"p","type":"ok","f":"send",)"
                                   R"("partition":"t-0","value":"v","acks":"all","offset":0})"
                                   "\n";
    for (const MalformedCase& malformed : malformed_cases()) {
        SCOPED_TRACE(malformed.line);
        try {
            (void)read_text(good_lines + malformed.line + "\n" + good_lines);
            ADD_FAILURE() << "no HistoryError";
        } catch (const HistoryError& error) {
            const std::string message = error.what();
            EXPECT_EQ(error.line_number(), 3U);
            EXPECT_EQ(message.find('\n'), std::string::npos) << message;
            ASSERT_EQ(message.rfind("line 3: ", 0), 0U) << message;
            if (malformed.exact) {
                EXPECT_EQ(message.substr(8), malformed.message);
            } else {
                EXPECT_NE(message.find(malformed.message), std::string::npos) << message;
            }
        }
    }
}

TEST(History, ClockLinesReadBackAndGiveEachNodesReading) {
    History history;
    history.clocks.push_back(ClockChange{.time = 1'000'000'000, .node = "broker-1", .offset_ns = 5'000'000'000});
    history.clocks.push_back(
        ClockChange{.time = 2'000'000'000, .node = "broker-2", .offset_ns = -1'000'000, .drift_ppm = 100'000});
    history.clocks.push_back(ClockChange{.time = 3'000'000'000, .node = "broker-1", .offset_ns = 0});
    const std::string text = write_text(history);
    EXPECT_NE(text.find(R"({"kind":"clock","time":2000000000,"node":"broker-2","offset_ns":-1000000,"drift_ppm":100000})"),
              std::string::npos)
        << text;
    EXPECT_EQ(read_text(text), history);
    EXPECT_EQ(local_time(history, "broker-1", 500'000'000), 500'000'000) << "before its first line: true time";
    EXPECT_EQ(local_time(history, "broker-1", 2'500'000'000), 7'500'000'000);
    EXPECT_EQ(local_time(history, "broker-1", 3'500'000'000), 3'500'000'000) << "stepped back";
    // 10% fast from 2 s on: 1 s later it reads 1.1 s later, less its offset.
    EXPECT_EQ(local_time(history, "broker-2", 3'000'000'000), 3'099'000'000);
    EXPECT_EQ(local_time(history, "controller", 3'000'000'000), 3'000'000'000) << "no lines: true time";
    EXPECT_THROW((void)read_text(R"({"kind":"clock","time":1,"node":"broker-1"})"), HistoryError);
    EXPECT_THROW((void)read_text("{\"kind\":\"clock\",\"time\":5,\"node\":\"b\",\"offset_ns\":0}\n"
                                 "{\"kind\":\"clock\",\"time\":4,\"node\":\"b\",\"offset_ns\":0}"),
                 HistoryError);
}

TEST(History, HealthLinesGoForwardInTime) {
    try {
        (void)read_text(R"({"kind":"health","time":7,"healthy":true})"
                        "\n"
                        R"({"kind":"health","time":5,"healthy":false})"
                        "\n");
        ADD_FAILURE() << "no HistoryError";
    } catch (const HistoryError& error) {
        EXPECT_STREQ(error.what(), R"(line 2: "time" 5 is before the previous health line's 7)");
    }
}

TEST(History, LineNumbersCountBlankLines) {
    try {
        (void)read_text(
            "\n\n\n{\"kind\":\"op\",\"index\":1,\"time\":0,\"process\":\"c\",\"type\":\"maybe\",\"f\":\"x\"}\n");
        ADD_FAILURE() << "no HistoryError";
    } catch (const HistoryError& error) {
        EXPECT_STREQ(error.what(), R"(line 4: "type" must be one of invoke, ok, fail, info)");
    }
}

TEST(History, MalformedJsonNamesTheLineNotTheParsersLineOne) {
    try {
        (void)read_text("{\"kind\":\"op\"\n{\"kind\":\n");
        ADD_FAILURE() << "no HistoryError";
    } catch (const HistoryError& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.rfind("line 1: malformed JSON at byte ", 0), 0U) << message;
        EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;
        EXPECT_EQ(message.find("line 1,"), std::string::npos) << message;
    }
}

TEST(History, HistoryErrorIsARuntimeError) {
    std::istringstream input("not json\n");
    EXPECT_THROW((void)read_history(input), std::runtime_error);
}

// ---- committed_log ----

History replicas_history(std::vector<ReplicaState> replicas) {
    History history;
    history.replicas = std::move(replicas);
    return history;
}

ReplicaState replica(const std::string& partition, const std::string& name, bool leader, std::int64_t start,
                     std::int64_t high_watermark, std::vector<Record> records) {
    return ReplicaState{.partition = partition,
                        .replica = name,
                        .leader = leader,
                        .log_start_offset = start,
                        .high_watermark = high_watermark,
                        .log_end_offset = records.empty() ? start : records.back().offset + 1,
                        .records = std::move(records)};
}

TEST(CommittedLog, IsTheLeadersRecordsFromLogStartBelowTheHighWatermark) {
    const History history = replicas_history({
        replica("t-0", "b1", false, 0, 5, {{0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}, {4, "e"}}),
        replica("t-0", "b2", true, 1, 3, {{0, "a"}, {1, "b"}, {2, "c"}, {3, "d"}}),
        replica("t-1", "b1", true, 0, 9, {{0, "z"}}),
    });
    const std::optional<CommittedLog> log = committed_log(history, "t-0");
    ASSERT_TRUE(log.has_value());
    EXPECT_EQ(log->partition, "t-0");
    EXPECT_EQ(log->replica, "b2");
    EXPECT_EQ(log->log_start_offset, 1);
    EXPECT_EQ(log->high_watermark, 3);
    EXPECT_EQ(log->records, (std::vector<Record>{{1, "b"}, {2, "c"}}));
}

TEST(CommittedLog, WithoutALeaderIsTheFirstReplicaWithTheHighestWatermark) {
    const History history = replicas_history({
        replica("t-0", "b1", false, 0, 1, {{0, "a"}, {1, "b"}}),
        replica("t-0", "b2", false, 0, 2, {{0, "a"}, {1, "b"}}),
        replica("t-0", "b3", false, 0, 2, {{0, "a"}, {1, "x"}}),
    });
    const std::optional<CommittedLog> log = committed_log(history, "t-0");
    ASSERT_TRUE(log.has_value());
    EXPECT_EQ(log->replica, "b2");
    EXPECT_EQ(log->records, (std::vector<Record>{{0, "a"}, {1, "b"}}));
}

TEST(CommittedLog, IsNothingForAPartitionWithoutReplicas) {
    const History history = replicas_history({replica("t-0", "b1", true, 0, 1, {{0, "a"}})});
    EXPECT_FALSE(committed_log(history, "t-1").has_value());
}

}  // namespace
}  // namespace eosim::model
