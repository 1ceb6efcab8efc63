#include "client_core/fetched_records.h"

#include <algorithm>
#include <set>

#include "protocol/control_record.h"

namespace eosim::client_core {

using protocol::AbortedTransaction;
using protocol::IsolationLevel;
using protocol::Offset;
using protocol::ProducerId;
using protocol::RecordBatch;

namespace {

// Kafka's abortedProducerIds with its queue of aborted transactions, in first-offset order.
class AbortedProducers {
public:
    explicit AbortedProducers(std::vector<AbortedTransaction> aborted) : pending_(std::move(aborted)) {
        std::stable_sort(pending_.begin(), pending_.end(), [](const AbortedTransaction& a, const AbortedTransaction& b) {
            return a.first_offset < b.first_offset;
        });
    }

    // Every aborted transaction that began at or below `offset` is in effect.
    void begin_up_to(Offset offset) {
        while (next_ < pending_.size() && pending_[next_].first_offset <= offset) {
            producers_.insert(pending_[next_].producer_id);
            ++next_;
        }
    }
    [[nodiscard]] bool aborted(ProducerId producer) const { return producers_.contains(producer); }
    void end(ProducerId producer) { producers_.erase(producer); }

private:
    std::vector<AbortedTransaction> pending_;
    std::size_t next_ = 0;
    std::set<ProducerId> producers_;
};

}  // namespace

FetchedRecords fetched_records(const protocol::FetchPartitionResponse& answer, Offset position,
                               IsolationLevel isolation) {
    FetchedRecords fetched{.records = {}, .next_offset = position};
    const bool read_committed = isolation == IsolationLevel::read_committed;
    AbortedProducers aborted(read_committed ? answer.aborted_transactions : std::vector<AbortedTransaction>{});
    // Passing over a batch moves the position past it (never back: an answer may begin with a batch that
    // holds the position).
    const auto pass = [&fetched](const RecordBatch& batch) {
        if (batch.next_offset() > fetched.next_offset) {
            fetched.next_offset = batch.next_offset();
            fetched.last_epoch = batch.leader_epoch;
        }
    };
    for (const RecordBatch& batch : answer.batches) {
        if (batch.records.empty()) {
            continue;
        }
        const bool has_producer = batch.producer_id != protocol::no_producer_id;
        if (read_committed && has_producer) {
            aborted.begin_up_to(batch.last_offset());
        }
        if (batch.control) {
            const std::optional<protocol::TransactionMarker> marker = protocol::marker_of(batch);
            if (read_committed && marker && marker->type == protocol::ControlType::abort) {
                aborted.end(batch.producer_id);
            }
            pass(batch);
            continue;
        }
        if (read_committed && batch.transactional && aborted.aborted(batch.producer_id)) {
            pass(batch);
            continue;
        }
        for (std::size_t i = 0; i < batch.records.size(); ++i) {
            const Offset offset(batch.base_offset.value() + static_cast<std::int64_t>(i));
            if (offset >= fetched.next_offset) {
                fetched.records.push_back(FetchedRecord{offset, batch.leader_epoch, &batch.records[i]});
                fetched.next_offset = Offset(offset.value() + 1);
                fetched.last_epoch = batch.leader_epoch;
            }
        }
    }
    return fetched;
}

}  // namespace eosim::client_core
