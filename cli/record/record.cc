// eosim-record: runs the log, idempotent or transactional workload against a real Kafka cluster (or
// librdkafka's built-in mock cluster) through librdkafka, and writes what the clients saw as an eosim
// history (docs/history-format.md), which `eosim check` checks (docs/real-clusters.md).
//
// Outside the simulator nothing is deterministic: times are the wall clock's, and the cluster does what it
// does. The history says only what the clients saw; its replica lines are a client's final read of each
// partition, not the replicas' bytes.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/version.h"
#include "model/history.h"

namespace {

namespace model = eosim::model;

// Kafka's API keys that the mock's error injection names.
constexpr std::int16_t api_produce = 0;
constexpr std::int16_t api_end_txn = 26;
constexpr std::int16_t api_add_partitions_to_txn = 24;

struct Options {
    std::string bootstrap;
    int mock_brokers = 0;
    std::string workload = "idempotent";
    std::string topic = "eosim-record";
    int partitions = 3;
    int replication = 3;
    int producers = 2;
    int messages = 200;
    std::string acks = "all";
    int txn_size = 5;
    int abort_every = 4;
    std::vector<std::string> inject;
    int timeout_s = 60;
    std::string out;
    bool quiet = false;
    std::string debug;  // librdkafka's debug contexts for the producers (its log goes to stderr)
};

class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using Clock = std::chrono::steady_clock;

// The history as it happens: operations in the order this program saw them, times from its start.
class Recorder {
public:
    model::Operation& op(const std::string& process, model::OpType type, const std::string& f) {
        model::Operation operation;
        operation.index = history_.operations.size();
        operation.time = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count();
        operation.process = process;
        operation.type = type;
        operation.f = f;
        history_.operations.push_back(std::move(operation));
        return history_.operations.back();
    }
    model::History& history() { return history_; }

private:
    Clock::time_point start_ = Clock::now();
    model::History history_;
};

std::string partition_name(const std::string& topic, std::int32_t partition) {
    return fmt::format("{}-{}", topic, partition);
}

using Handle = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;

void set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
    char error[512];
    if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
        throw UsageError(fmt::format("librdkafka setting {}={}: {}", name, value, error));
    }
}

Handle make_handle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
    char error[512];
    rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
    if (handle == nullptr) {
        rd_kafka_conf_destroy(conf);
        throw std::runtime_error(fmt::format("cannot make a librdkafka client: {}", error));
    }
    return Handle(handle, &rd_kafka_destroy);
}

// One send in flight: what its delivery report completes.
struct InFlight {
    Recorder* recorder = nullptr;
    std::string process;
    model::Operation invoke;
};

// The delivery report: ok with the offset; fail when the message was certainly not written; info when it
// may have been (librdkafka's persistence status says which).
void delivered(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    std::unique_ptr<InFlight> sent(static_cast<InFlight*>(message->_private));
    if (!sent) {
        return;
    }
    const rd_kafka_msg_status_t status = rd_kafka_message_status(message);
    const model::OpType type = message->err == RD_KAFKA_RESP_ERR_NO_ERROR || status == RD_KAFKA_MSG_STATUS_PERSISTED
                                   ? model::OpType::ok
                               : status == RD_KAFKA_MSG_STATUS_NOT_PERSISTED ? model::OpType::fail
                                                                             : model::OpType::info;
    model::Operation& done = sent->recorder->op(sent->process, type, "send");
    const std::uint64_t index = done.index;
    const std::int64_t time = done.time;
    done = sent->invoke;
    done.index = index;
    done.time = time;
    done.type = type;
    if (type == model::OpType::ok && message->offset >= 0) {
        done.offset = message->offset;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        done.error = rd_kafka_err2name(message->err);
    }
}

struct Producer {
    std::string process;
    std::optional<std::string> transactional_id;
    Handle handle{nullptr, &rd_kafka_destroy};
    // After the handle: destroyed before it.
    std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> topic{nullptr, &rd_kafka_topic_destroy};
    int sent = 0;
    bool broken = false;  // fatal error: it stops
    std::optional<std::int64_t> producer_id;
    std::optional<std::int64_t> producer_epoch;
};

Handle make_producer(const Options& options, const std::string& bootstrap, const std::string& process,
                     const std::optional<std::string>& transactional_id) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "client.id", process);
    set(conf, "acks", options.workload == "log" ? options.acks : "all");
    set(conf, "enable.idempotence", options.workload == "log" ? "false" : "true");
    set(conf, "linger.ms", "5");
    // A response that comes late makes the client send the batch again: what the injected faults aim at.
    set(conf, "request.timeout.ms", "2000");
    set(conf, "socket.timeout.ms", "2000");  // the client's own wait for a response
    set(conf, "message.timeout.ms", std::to_string(options.timeout_s * 1000 / 2));
    if (options.workload == "log") {
        set(conf, "retries", "10");
        set(conf, "max.in.flight.requests.per.connection", "1");
    }
    if (transactional_id) {
        set(conf, "transactional.id", *transactional_id);
        set(conf, "transaction.timeout.ms", std::to_string(options.timeout_s * 1000));
    }
    if (!options.debug.empty()) {
        set(conf, "debug", options.debug);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    return make_handle(RD_KAFKA_PRODUCER, conf);
}

void send(Recorder& recorder, Producer& producer, const Options& options, std::int32_t partition,
          const std::optional<std::string>& txn) {
    auto in_flight = std::make_unique<InFlight>();
    in_flight->recorder = &recorder;
    in_flight->process = producer.process;
    const std::string value = fmt::format("{}-{}", producer.process, producer.sent++);
    model::Operation& invoke = recorder.op(producer.process, model::OpType::invoke, "send");
    invoke.partition = partition_name(options.topic, partition);
    invoke.value = value;
    invoke.acks = options.workload == "log" && options.acks == "1"   ? model::Acks::leader
                  : options.workload == "log" && options.acks == "0" ? model::Acks::none
                                                                     : model::Acks::all;
    invoke.txn = txn;
    if (txn) {
        invoke.transactional_id = producer.transactional_id;
        invoke.producer_id = producer.producer_id;
        invoke.producer_epoch = producer.producer_epoch;
    }
    in_flight->invoke = invoke;
    for (;;) {
        const rd_kafka_resp_err_t error =
            rd_kafka_produce(producer.topic.get(), partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                             value.size(), nullptr, 0, in_flight.get()) == 0
                ? RD_KAFKA_RESP_ERR_NO_ERROR
                : rd_kafka_last_error();
        if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(producer.handle.get(), 50);
            continue;
        }
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
            // Refused before it left: certainly not written.
            model::Operation& failed = recorder.op(producer.process, model::OpType::fail, "send");
            const std::uint64_t index = failed.index;
            const std::int64_t time = failed.time;
            failed = in_flight->invoke;
            failed.index = index;
            failed.time = time;
            failed.type = model::OpType::fail;
            failed.error = rd_kafka_err2name(error);
            return;
        }
        (void)in_flight.release();  // the delivery report owns it now
        rd_kafka_poll(producer.handle.get(), 0);
        return;
    }
}

// The mock cluster's faults, each at its moment of the workload (docs/real-clusters.md).
class Injector {
public:
    Injector(const Options& options, rd_kafka_mock_cluster_t* mock) : options_(options), mock_(mock) {
        for (const std::string& name : options.inject) {
            static const std::set<std::string> known{"lost-produce-response", "produce-errors", "leader-change",
                                                     "broker-down", "txn-errors"};
            if (!known.contains(name)) {
                throw UsageError(fmt::format("--inject {}: unknown (lost-produce-response, produce-errors, "
                                             "leader-change, broker-down, txn-errors)", name));
            }
            if (mock == nullptr) {
                throw UsageError(fmt::format("--inject {} needs the mock cluster (--mock-brokers N)", name));
            }
        }
    }
    // Called as the workload goes: `progress` from 0 to 1.
    void at(double progress) {
        for (const std::string& name : options_.inject) {
            if (done_.contains(name)) {
                if (name == "broker-down" && !restored_ && progress >= 0.6) {
                    rd_kafka_mock_broker_set_up(mock_, 2);
                    restored_ = true;
                }
                continue;
            }
            if (progress < 0.3) {
                continue;
            }
            done_.insert(name);
            if (name == "lost-produce-response") {
                // The leader of every partition (broker 1) appends the next produce requests but answers them
                // after the client's request timeout: the client sends them again.
                rd_kafka_mock_broker_push_request_error_rtts(mock_, 1, api_produce, 3, RD_KAFKA_RESP_ERR_NO_ERROR,
                                                             3000, RD_KAFKA_RESP_ERR_NO_ERROR, 3000,
                                                             RD_KAFKA_RESP_ERR_NO_ERROR, 3000);
            } else if (name == "produce-errors") {
                rd_kafka_mock_push_request_errors(mock_, api_produce, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                                  RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                                  RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
            } else if (name == "leader-change") {
                for (int p = 0; p < options_.partitions; ++p) {
                    rd_kafka_mock_partition_set_leader(mock_, options_.topic.c_str(), p, 1 + (p + 1) % options_.mock_brokers);
                }
            } else if (name == "broker-down") {
                rd_kafka_mock_broker_set_down(mock_, 2);
            } else if (name == "txn-errors") {
                rd_kafka_mock_push_request_errors(mock_, api_add_partitions_to_txn, 2,
                                                  RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                                  RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
                rd_kafka_mock_push_request_errors(mock_, api_end_txn, 2, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                                  RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
            }
        }
    }

private:
    const Options& options_;
    rd_kafka_mock_cluster_t* mock_;
    std::set<std::string> done_;
    bool restored_ = false;
};

std::string error_text(rd_kafka_error_t* error) {
    std::string text = rd_kafka_error_name(error);
    rd_kafka_error_destroy(error);
    return text;
}

// A transactional call's completion: ok, or its error recorded (fatal errors also break the producer).
bool finished(Recorder& recorder, Producer& producer, const std::string& f, rd_kafka_error_t* error,
              const std::optional<std::string>& txn, bool* abortable = nullptr) {
    const bool fatal = error != nullptr && rd_kafka_error_is_fatal(error) != 0;
    const bool requires_abort = error != nullptr && rd_kafka_error_txn_requires_abort(error) != 0;
    // A commit that failed with an abortable error did not commit (nothing was decided); one that timed out
    // or was fenced may have (info).
    const model::OpType type = error == nullptr              ? model::OpType::ok
                               : requires_abort && f != "abort" ? model::OpType::fail
                                                              : model::OpType::info;
    model::Operation& done = recorder.op(producer.process, type, f);
    done.txn = txn;
    done.transactional_id = producer.transactional_id;
    done.producer_id = producer.producer_id;
    done.producer_epoch = producer.producer_epoch;
    if (error != nullptr) {
        done.error = requires_abort ? "abortable: " + std::string(rd_kafka_error_name(error)) : rd_kafka_error_name(error);
        rd_kafka_error_destroy(error);
    }
    // Fatal, or neither abortable nor retriable, or retried past the deadline: the producer stops.
    if (fatal || (error != nullptr && !requires_abort)) {
        producer.broken = true;
    }
    if (abortable != nullptr) {
        *abortable = requires_abort;
    }
    return error == nullptr;
}

void run_transactional(Recorder& recorder, std::vector<Producer>& producers, const Options& options, Injector& injector) {
    const int timeout_ms = options.timeout_s * 1000 / 2;
    for (Producer& producer : producers) {
        model::Operation& invoke = recorder.op(producer.process, model::OpType::invoke, "init-txn");
        invoke.transactional_id = producer.transactional_id;
        invoke.timeout_ms = options.timeout_s * 1000;
        rd_kafka_error_t* error = rd_kafka_init_transactions(producer.handle.get(), timeout_ms);
        model::Operation& done = recorder.op(producer.process, error == nullptr ? model::OpType::ok : model::OpType::fail,
                                             "init-txn");
        done.transactional_id = producer.transactional_id;
        if (error != nullptr) {
            done.error = error_text(error);
            producer.broken = true;
        }
    }
    const int transactions = std::max(1, options.messages / std::max(1, options.txn_size));
    for (int t = 0; t < transactions; ++t) {
        injector.at(static_cast<double>(t) / transactions);
        for (Producer& producer : producers) {
            if (producer.broken) {
                continue;
            }
            const std::string txn = fmt::format("{}-t{}", producer.process, t + 1);
            if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer.handle.get()); error != nullptr) {
                model::Operation& failed = recorder.op(producer.process, model::OpType::fail, "begin");
                failed.txn = txn;
                failed.transactional_id = producer.transactional_id;
                failed.error = error_text(error);
                producer.broken = true;
                continue;
            }
            model::Operation& begin = recorder.op(producer.process, model::OpType::ok, "begin");
            begin.txn = txn;
            begin.transactional_id = producer.transactional_id;
            for (int i = 0; i < options.txn_size; ++i) {
                send(recorder, producer, options, static_cast<std::int32_t>((t + i) % options.partitions), txn);
            }
            rd_kafka_flush(producer.handle.get(), timeout_ms);  // the delivery reports come in here
            const bool abort_it = options.abort_every > 0 && (t + 1) % options.abort_every == 0;
            bool abortable = false;
            if (!abort_it) {
                model::Operation& commit = recorder.op(producer.process, model::OpType::invoke, "commit");
                commit.txn = txn;
                commit.transactional_id = producer.transactional_id;
                rd_kafka_error_t* error = rd_kafka_commit_transaction(producer.handle.get(), timeout_ms);
                // A retriable error: the outcome is not known yet; librdkafka asks for the same call again, until
                // --timeout-s runs out (then the outcome stays unknown: info).
                const auto give_up = Clock::now() + std::chrono::seconds(options.timeout_s);
                while (error != nullptr && rd_kafka_error_is_retriable(error) != 0 && Clock::now() < give_up) {
                    rd_kafka_error_destroy(error);
                    error = rd_kafka_commit_transaction(producer.handle.get(), timeout_ms);
                }
                if (finished(recorder, producer, "commit", error, txn, &abortable) || !abortable) {
                    continue;
                }
            }
            model::Operation& abort = recorder.op(producer.process, model::OpType::invoke, "abort");
            abort.txn = txn;
            abort.transactional_id = producer.transactional_id;
            rd_kafka_error_t* error = rd_kafka_abort_transaction(producer.handle.get(), timeout_ms);
            const auto give_up = Clock::now() + std::chrono::seconds(options.timeout_s);
            while (error != nullptr && rd_kafka_error_is_retriable(error) != 0 && Clock::now() < give_up) {
                rd_kafka_error_destroy(error);
                error = rd_kafka_abort_transaction(producer.handle.get(), timeout_ms);
            }
            finished(recorder, producer, "abort", error, txn);
        }
    }
}

void run_sends(Recorder& recorder, std::vector<Producer>& producers, const Options& options, Injector& injector) {
    for (int n = 0; n < options.messages; ++n) {
        injector.at(static_cast<double>(n) / options.messages);
        for (Producer& producer : producers) {
            send(recorder, producer, options, static_cast<std::int32_t>(n % options.partitions), std::nullopt);
        }
        if (n % 20 == 19) {
            for (Producer& producer : producers) {
                rd_kafka_poll(producer.handle.get(), 10);
            }
        }
    }
    for (Producer& producer : producers) {
        rd_kafka_flush(producer.handle.get(), options.timeout_s * 1000 / 2);
    }
}

// A consumer that reads every partition from its start to its end (its high watermark; read_committed: as far
// as it can, up to the last stable offset), recording an assign and its polls. Returns what it read.
std::map<std::int32_t, std::vector<model::Record>> read_all(Recorder& recorder, const Options& options,
                                                            const std::string& bootstrap, const std::string& process,
                                                            bool committed,
                                                            std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>>& marks) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", bootstrap);
    set(conf, "client.id", process);
    set(conf, "group.id", "eosim-record-" + process);  // assign() needs one; nothing is committed to it
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.partition.eof", "true");
    set(conf, "isolation.level", committed ? "read_committed" : "read_uncommitted");
    Handle consumer = make_handle(RD_KAFKA_CONSUMER, conf);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(options.partitions);
    std::set<std::int32_t> open;
    for (std::int32_t p = 0; p < options.partitions; ++p) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        if (rd_kafka_query_watermark_offsets(consumer.get(), options.topic.c_str(), p, &low, &high, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            continue;
        }
        marks[p] = {low, high};
        rd_kafka_topic_partition_list_add(list, options.topic.c_str(), p)->offset = low;
        model::Operation& assign = recorder.op(process, model::OpType::ok, "assign");
        assign.partition = partition_name(options.topic, p);
        assign.offset = low;
        if (high > low) {
            open.insert(p);
        }
    }
    rd_kafka_assign(consumer.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    std::map<std::int32_t, std::vector<model::Record>> read;
    std::map<std::int32_t, std::vector<model::Record>> batch;  // what this poll round read, per partition
    const auto flush = [&] {
        for (auto& [p, records] : batch) {
            if (records.empty()) {
                continue;
            }
            model::Operation& poll = recorder.op(process, model::OpType::ok, "poll");
            poll.partition = partition_name(options.topic, p);
            poll.records = records;
            poll.isolation = committed ? "read_committed" : "read_uncommitted";
            records.clear();
        }
    };
    const auto deadline = Clock::now() + std::chrono::seconds(options.timeout_s / 2);
    while (!open.empty() && Clock::now() < deadline) {
        rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 200);
        if (message == nullptr) {
            flush();
            continue;
        }
        const std::int32_t p = message->partition;
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            open.erase(p);
        } else if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            model::Record record{.offset = message->offset};
            if (message->payload != nullptr) {
                record.value = std::string(static_cast<const char*>(message->payload), message->len);
            }
            batch[p].push_back(record);
            read[p].push_back(record);
            if (batch[p].size() >= 50) {
                flush();
            }
            if (!committed && message->offset + 1 >= marks[p].second) {
                open.erase(p);
            }
        }
        rd_kafka_message_destroy(message);
    }
    flush();
    rd_kafka_consumer_close(consumer.get());
    return read;
}

int record(const Options& options) {
    if (options.bootstrap.empty() == (options.mock_brokers == 0)) {
        throw UsageError("give --bootstrap HOST:PORT (a Kafka cluster) or --mock-brokers N (librdkafka's mock cluster)");
    }
    if (options.workload != "log" && options.workload != "idempotent" && options.workload != "transactional") {
        throw UsageError(fmt::format("--workload {}: one of log, idempotent, transactional", options.workload));
    }
    if (options.acks != "all" && options.acks != "1" && options.acks != "0") {
        throw UsageError(fmt::format("--acks {}: one of all, 1, 0", options.acks));
    }
    if (options.partitions < 1 || options.producers < 1 || options.messages < 1 || options.txn_size < 1 ||
        options.mock_brokers < 0 || options.timeout_s < 2) {
        throw UsageError("--partitions, --producers, --messages and --txn-size must be at least 1, --timeout-s at least 2");
    }
    std::ofstream out(options.out);
    if (!out) {
        throw UsageError(fmt::format("{}: cannot write", options.out));
    }

    // The mock cluster lives in a client handle of its own, listening on loopback ports.
    Handle mock_host{nullptr, &rd_kafka_destroy};
    // After its host: destroyed before it, as librdkafka requires.
    std::unique_ptr<rd_kafka_mock_cluster_t, decltype(&rd_kafka_mock_cluster_destroy)> mock_cluster{
        nullptr, &rd_kafka_mock_cluster_destroy};
    rd_kafka_mock_cluster_t* mock = nullptr;
    std::string bootstrap = options.bootstrap;
    if (options.mock_brokers > 0) {
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        set(conf, "client.id", "eosim-record-mock");
        mock_host = make_handle(RD_KAFKA_PRODUCER, conf);
        mock_cluster.reset(rd_kafka_mock_cluster_new(mock_host.get(), options.mock_brokers));
        mock = mock_cluster.get();
        if (mock == nullptr) {
            throw std::runtime_error("cannot start librdkafka's mock cluster");
        }
        bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
        rd_kafka_mock_topic_create(mock, options.topic.c_str(), options.partitions,
                                   std::min(options.replication, options.mock_brokers));
        for (int p = 0; p < options.partitions; ++p) {
            rd_kafka_mock_partition_set_leader(mock, options.topic.c_str(), p, 1);
        }
    }
    Injector injector(options, mock);

    Recorder recorder;
    std::vector<Producer> producers(static_cast<std::size_t>(options.producers));
    for (std::size_t i = 0; i < producers.size(); ++i) {
        Producer& producer = producers[i];
        producer.process = fmt::format("{}-{}", options.workload == "transactional" ? "txn-producer" : "producer", i + 1);
        if (options.workload == "transactional") {
            producer.transactional_id = fmt::format("eosim-record-{}-{}", options.topic, i + 1);
        }
        producer.handle = make_producer(options, bootstrap, producer.process, producer.transactional_id);
        producer.topic.reset(rd_kafka_topic_new(producer.handle.get(), options.topic.c_str(), nullptr));
    }
    if (options.workload == "transactional") {
        run_transactional(recorder, producers, options, injector);
    } else {
        run_sends(recorder, producers, options, injector);
    }
    for (Producer& producer : producers) {
        rd_kafka_flush(producer.handle.get(), options.timeout_s * 1000 / 2);  // the last delivery reports
    }
    producers.clear();  // sends never reported stay invoked only: not acknowledged

    // The final reads: read_committed (transactions) and read_uncommitted; the latter's read is the history's
    // replica line of each partition: a client's view of the committed log.
    std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> marks;
    if (options.workload == "transactional") {
        std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> ignored;
        (void)read_all(recorder, options, bootstrap, "rc-consumer-1", true, ignored);
    }
    const auto read = read_all(recorder, options, bootstrap, "consumer-1", false, marks);
    for (const auto& [p, bounds] : marks) {
        model::ReplicaState replica;
        replica.partition = partition_name(options.topic, p);
        replica.replica = "client-read";
        replica.leader = true;
        replica.log_start_offset = bounds.first;
        replica.high_watermark = bounds.second;
        replica.log_end_offset = bounds.second;
        if (const auto found = read.find(p); found != read.end()) {
            replica.records = found->second;
        }
        recorder.history().replicas.push_back(std::move(replica));
    }
    model::write_history(out, recorder.history());
    out.flush();
    if (!out) {
        throw UsageError(fmt::format("{}: cannot write", options.out));
    }
    if (!options.quiet) {
        std::size_t sends = 0;
        std::size_t acknowledged = 0;
        for (const model::Operation& op : recorder.history().operations) {
            if (op.f == "send") {
                sends += op.type == model::OpType::invoke ? 1 : 0;
                acknowledged += op.type == model::OpType::ok ? 1 : 0;
            }
        }
        fmt::print("{}: {} operations ({} sends, {} acknowledged), {} partitions read back ({}{})\n", options.out,
                   recorder.history().operations.size(), sends, acknowledged, marks.size(),
                   mock != nullptr ? fmt::format("librdkafka mock cluster of {} brokers", options.mock_brokers)
                                   : "cluster " + options.bootstrap,
                   options.inject.empty() ? "" : fmt::format(", injected: {}", fmt::join(options.inject, ", ")));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"eosim-record: runs a workload against a Kafka cluster through librdkafka and writes the history "
                 "the clients saw, for eosim check (docs/real-clusters.md)",
                 "eosim-record"};
    app.set_version_flag("--version", std::string("eosim-record ") + eosim::cli::eosim_version + " (librdkafka " +
                                          rd_kafka_version_str() + ")");
    Options options;
    app.add_option("--bootstrap", options.bootstrap, "The cluster: HOST:PORT[,HOST:PORT...]");
    app.add_option("--mock-brokers", options.mock_brokers,
                   "Run against librdkafka's built-in mock cluster of N brokers instead (no network)");
    app.add_option("--workload", options.workload, "log (acks as --acks, no idempotence), idempotent, transactional");
    app.add_option("--topic", options.topic, "The topic (made on the mock cluster; on a real one it must exist)");
    app.add_option("--partitions", options.partitions, "Partitions of the topic");
    app.add_option("--replication", options.replication, "Replication factor (the mock cluster)");
    app.add_option("--producers", options.producers, "Producers (transactional: each with its own transactional.id)");
    app.add_option("--messages", options.messages, "Messages each producer sends");
    app.add_option("--acks", options.acks, "The log workload's acks: all, 1 or 0");
    app.add_option("--txn-size", options.txn_size, "Sends per transaction");
    app.add_option("--abort-every", options.abort_every, "Abort every N-th transaction on purpose (0: never)");
    app.add_option("--inject", options.inject,
                   "A mock cluster fault (repeatable): lost-produce-response, produce-errors, leader-change, "
                   "broker-down, txn-errors");
    app.add_option("--timeout-s", options.timeout_s, "How long the workload and the final reads may take");
    app.add_option("--out", options.out, "The history file to write")->required();
    app.add_flag("-q,--quiet", options.quiet, "Print nothing but errors");
    app.add_option("--debug", options.debug, "librdkafka debug contexts for the producers, e.g. eos,msg (to stderr)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "eosim-record: {} (see eosim-record --help)\n", e.what());
        return 2;
    }
    try {
        return record(options);
    } catch (const UsageError& e) {
        fmt::print(stderr, "eosim-record: {}\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "eosim-record: error: {}\n", e.what());
        return 3;
    }
}
