import Synchronization

/// Cancel requests on their way to workers: the store drops each into the mailbox of the
/// worker that runs the job, and the worker's ``JobStore/cancelRequests(worker:timeout:)``
/// takes them out. A mailbox lives while its worker keeps asking and for `keepFor` after,
/// so requests for workers served by another process (another master) do not pile up here,
/// and a request that comes just before its worker's first ask is not lost.
package final class CancelMailboxes: Sendable {
    private struct Mailbox {
        var pending: [JobID] = []
        let wakeup = Wakeup()
        var lastAsked: ContinuousClock.Instant
    }

    /// How long a mailbox outlives its worker's last request: the gap between one long poll
    /// and the next must not lose a message.
    private let keepFor: Duration
    private let boxes = Mutex<[String: Mailbox]>([:])

    package init(keepFor: Duration = .seconds(60)) {
        self.keepFor = keepFor
    }

    /// Delivers a request to the worker, if it has a mailbox here.
    package func deliver(_ id: JobID, to worker: String) {
        let wakeup = boxes.withLock { boxes -> Wakeup in
            let now = ContinuousClock.now
            Self.prune(&boxes, now: now, keepFor: keepFor, keeping: worker)
            if boxes[worker] == nil { boxes[worker] = Mailbox(lastAsked: now) }
            // Bounded: a worker that never asks does not grow its mailbox without end.
            if boxes[worker]!.pending.count < 10_000 { boxes[worker]!.pending.append(id) }
            return boxes[worker]!.wakeup
        }
        wakeup.fire()
    }

    private static func prune(_ boxes: inout [String: Mailbox], now: ContinuousClock.Instant, keepFor: Duration, keeping worker: String) {
        boxes = boxes.filter { $0.key == worker || now - $0.value.lastAsked < keepFor }
    }

    /// The worker's requests, waiting up to `timeout` for one.
    package func take(worker: String, timeout: Duration) async -> [JobID] {
        let wakeup = boxes.withLock { boxes -> Wakeup in
            let now = ContinuousClock.now
            Self.prune(&boxes, now: now, keepFor: keepFor, keeping: worker)
            if boxes[worker] == nil { boxes[worker] = Mailbox(lastAsked: now) }
            boxes[worker]!.lastAsked = now
            return boxes[worker]!.wakeup
        }
        // A wakeup remembers a fire nobody waited for (the request it announced may have been
        // taken already by the previous call), so waking is no proof of mail: look again.
        let deadline = ContinuousClock.now + timeout
        while boxes.withLock({ $0[worker]?.pending.isEmpty ?? true }), !Task.isCancelled {
            let left = deadline - .now
            if left <= .zero { break }
            await wakeup.wait(timeout: left)
        }
        return boxes.withLock { boxes in
            boxes[worker]?.lastAsked = .now
            defer { boxes[worker]?.pending = [] }
            return boxes[worker]?.pending ?? []
        }
    }
}
