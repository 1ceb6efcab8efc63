#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "streams_core/processor.h"

namespace eosim::streams_core {

// A state store a topology declares: its name, and whether a changelog topic backs it (Kafka's
// StoreBuilder with logging enabled or disabled).
struct StoreSpec {
    std::string name;
    bool logged = true;
};

// One connected part of a topology: the nodes reachable from each other through parent links, with the
// topics they read and the stores they use. A task runs one sub-topology over one partition.
struct Subtopology {
    std::int32_t id = 0;
    std::vector<std::string> nodes;         // in the order they were added
    std::set<std::string> source_topics;
    std::set<std::string> sink_topics;
    std::set<std::string> stores;
};

// The graph of a stream application (Kafka's Topology of the processor API): sources that read topics,
// processors that their parents forward to, sinks that write topics, and state stores connected to
// processors. Names are unique; parents must exist when a node is added (checked, as Kafka checks).
class Topology {
public:
    enum class NodeKind : std::uint8_t { source, processor, sink };
    struct Node {
        std::string name;
        NodeKind kind = NodeKind::processor;
        std::vector<std::string> parents;
        std::vector<std::string> children;  // in the order they were connected
        std::vector<std::string> topics;    // a source's topics, a sink's one topic
        ProcessorSupplier supplier;         // processors only
        std::vector<std::string> stores;    // processors only
    };

    Topology& add_source(const std::string& name, const std::vector<std::string>& topics);
    Topology& add_processor(const std::string& name, ProcessorSupplier supplier,
                            const std::vector<std::string>& parents);
    Topology& add_sink(const std::string& name, const std::string& topic, const std::vector<std::string>& parents);
    // Declares `store` and connects it to `processors` (each must exist).
    Topology& add_state_store(const StoreSpec& store, const std::vector<std::string>& processors = {});
    Topology& connect_store(const std::string& store, const std::string& processor);

    [[nodiscard]] const Node& node(const std::string& name) const;
    [[nodiscard]] bool has_node(const std::string& name) const { return nodes_.contains(name); }
    [[nodiscard]] const StoreSpec& store(const std::string& name) const;
    [[nodiscard]] const std::map<std::string, StoreSpec>& stores() const { return stores_; }
    // The connected parts, numbered in the order of their first node.
    [[nodiscard]] std::vector<Subtopology> subtopologies() const;
    // Every topic a source reads / a sink writes.
    [[nodiscard]] std::set<std::string> source_topics() const;
    [[nodiscard]] std::set<std::string> sink_topics() const;

private:
    Node& add_node(const std::string& name, NodeKind kind, const std::vector<std::string>& parents);

    std::map<std::string, Node> nodes_;
    std::vector<std::string> order_;  // names in the order added
    std::map<std::string, StoreSpec> stores_;
    std::map<std::string, std::string> source_of_topic_;  // each topic is read by one source
};

// The name of the compacted topic that backs `store` of application `application_id` (Kafka's
// `<application.id>-<store>-changelog`).
[[nodiscard]] std::string changelog_topic(const std::string& application_id, const std::string& store);

}  // namespace eosim::streams_core
