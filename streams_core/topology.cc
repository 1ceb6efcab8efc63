#include "streams_core/topology.h"

#include <algorithm>
#include <functional>

#include "sim/assert.h"

namespace eosim::streams_core {

Topology::Node& Topology::add_node(const std::string& name, NodeKind kind, const std::vector<std::string>& parents) {
    EOSIM_ASSERT_MSG(!name.empty() && !nodes_.contains(name), "a topology node name is empty or taken");
    for (const std::string& parent : parents) {
        const auto found = nodes_.find(parent);
        EOSIM_ASSERT_MSG(found != nodes_.end(), "a topology node's parent does not exist");
        EOSIM_ASSERT_MSG(found->second.kind != NodeKind::sink, "a sink has no children");
        found->second.children.push_back(name);
    }
    Node& node = nodes_[name];
    node.name = name;
    node.kind = kind;
    node.parents = parents;
    order_.push_back(name);
    return node;
}

Topology& Topology::add_source(const std::string& name, const std::vector<std::string>& topics) {
    EOSIM_ASSERT_MSG(!topics.empty(), "a source reads at least one topic");
    for (const std::string& topic : topics) {
        EOSIM_ASSERT_MSG(!source_of_topic_.contains(topic), "a topic is read by one source only");
        source_of_topic_[topic] = name;
    }
    add_node(name, NodeKind::source, {}).topics = topics;
    return *this;
}

Topology& Topology::add_processor(const std::string& name, ProcessorSupplier supplier,
                                  const std::vector<std::string>& parents) {
    EOSIM_ASSERT_MSG(!parents.empty(), "a processor has a parent");
    EOSIM_ASSERT(supplier);
    add_node(name, NodeKind::processor, parents).supplier = std::move(supplier);
    return *this;
}

Topology& Topology::add_sink(const std::string& name, const std::string& topic, const std::vector<std::string>& parents) {
    EOSIM_ASSERT_MSG(!parents.empty(), "a sink has a parent");
    add_node(name, NodeKind::sink, parents).topics = {topic};
    return *this;
}

Topology& Topology::add_state_store(const StoreSpec& store, const std::vector<std::string>& processors) {
    EOSIM_ASSERT_MSG(!store.name.empty() && !stores_.contains(store.name), "a store name is empty or taken");
    stores_[store.name] = store;
    for (const std::string& processor : processors) {
        connect_store(store.name, processor);
    }
    return *this;
}

Topology& Topology::connect_store(const std::string& store, const std::string& processor) {
    EOSIM_ASSERT_MSG(stores_.contains(store), "a connected store must be declared");
    const auto found = nodes_.find(processor);
    EOSIM_ASSERT_MSG(found != nodes_.end() && found->second.kind == NodeKind::processor,
                     "a store is connected to a processor");
    std::vector<std::string>& stores = found->second.stores;
    if (std::find(stores.begin(), stores.end(), store) == stores.end()) {
        stores.push_back(store);
    }
    return *this;
}

const Topology::Node& Topology::node(const std::string& name) const {
    const auto found = nodes_.find(name);
    EOSIM_ASSERT_MSG(found != nodes_.end(), "no such topology node");
    return found->second;
}

const StoreSpec& Topology::store(const std::string& name) const {
    const auto found = stores_.find(name);
    EOSIM_ASSERT_MSG(found != stores_.end(), "no such state store");
    return found->second;
}

std::vector<Subtopology> Topology::subtopologies() const {
    // Nodes are joined by parent links and by a store they share (a store lives in one task).
    std::map<std::string, std::string> root;
    const std::function<std::string(const std::string&)> find = [&](const std::string& name) {
        std::string at = name;
        while (root.at(at) != at) {
            at = root.at(at);
        }
        return at;
    };
    const auto join = [&](const std::string& a, const std::string& b) { root[find(a)] = find(b); };
    for (const std::string& name : order_) {
        root[name] = name;
    }
    std::map<std::string, std::string> store_user;
    for (const std::string& name : order_) {
        const Node& node = nodes_.at(name);
        for (const std::string& parent : node.parents) {
            join(name, parent);
        }
        for (const std::string& store : node.stores) {
            const auto [user, fresh] = store_user.try_emplace(store, name);
            if (!fresh) {
                join(name, user->second);
            }
        }
    }
    std::vector<Subtopology> parts;
    std::map<std::string, std::size_t> part_of_root;
    for (const std::string& name : order_) {
        const auto [entry, fresh] = part_of_root.try_emplace(find(name), parts.size());
        if (fresh) {
            parts.push_back(Subtopology{.id = static_cast<std::int32_t>(parts.size())});
        }
        Subtopology& part = parts[entry->second];
        const Node& node = nodes_.at(name);
        part.nodes.push_back(name);
        if (node.kind == NodeKind::source) {
            part.source_topics.insert(node.topics.begin(), node.topics.end());
        } else if (node.kind == NodeKind::sink) {
            part.sink_topics.insert(node.topics.front());
        }
        part.stores.insert(node.stores.begin(), node.stores.end());
    }
    return parts;
}

std::set<std::string> Topology::source_topics() const {
    std::set<std::string> topics;
    for (const auto& [topic, source] : source_of_topic_) {
        topics.insert(topic);
    }
    return topics;
}

std::set<std::string> Topology::sink_topics() const {
    std::set<std::string> topics;
    for (const auto& [name, node] : nodes_) {
        if (node.kind == NodeKind::sink) {
            topics.insert(node.topics.front());
        }
    }
    return topics;
}

std::string changelog_topic(const std::string& application_id, const std::string& store) {
    return application_id + "-" + store + "-changelog";
}

}  // namespace eosim::streams_core
