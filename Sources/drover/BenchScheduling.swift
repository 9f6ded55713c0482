import DroverCore
import Foundation

extension Bench {
    /// Delayed jobs (random delays of 0.1 to 2 s) run by a worker whose promoter queues them:
    /// how late each became QUEUED; then running jobs cancelled one at a time: how long until
    /// the client sees them CANCELLED.
    func scheduling(delayed: Int, cancels: Int) async throws -> SchedulingFigures {
        let queue = "scheduling"
        let worker = try startWorker(queue: queue, id: "bench-scheduling", maintenance: true)
        defer { worker.send(SIGKILL) }
        let delays = (0..<delayed).map { _ in Int.random(in: 100...2000) }
        let ids = try await store.submit(delays.map { JobRequest(queue: queue, type: "noop", start: .after(.milliseconds($0))) }).map(\.id)
        var lateness: [Double] = []
        var early = 0
        for (id, delay) in zip(ids, delays) {
            guard let job = try await store.waitUntilFinished(id, queue: queue, timeout: .seconds(60)), job.state == .completed,
                let scheduled = job.history.first(where: { $0.state == .scheduled })?.at,
                let queued = job.history.first(where: { $0.state == .queued })?.at
            else { throw BenchError("a delayed job did not complete: \(worker.output().suffix(500))") }
            let late = Double(queued - (scheduled + Int64(delay)))
            if late < 0 { early += 1 }
            lateness.append(late)
        }
        lateness.sort()
        var cancelTimes: [Double] = []
        for _ in 0..<cancels {
            let id = try await store.submit([JobRequest(queue: queue, type: "sleep", payload: #"{"ms":60000}"#)])[0].id
            while try await store.job(id, queue: queue)?.state != .running { try await Task.sleep(for: .milliseconds(2)) }
            let asked = ContinuousClock.now
            _ = try await store.cancel(id, queue: queue)
            guard try await store.waitUntilFinished(id, queue: queue, timeout: .seconds(30))?.state == .cancelled else {
                throw BenchError("a cancelled job did not end CANCELLED")
            }
            cancelTimes.append((ContinuousClock.now - asked).seconds * 1000)
        }
        cancelTimes.sort()
        try await clean()
        return SchedulingFigures(
            delayed: delayed, delayLatenessP50Milliseconds: lateness[lateness.count / 2],
            delayLatenessP99Milliseconds: lateness[lateness.count * 99 / 100], delayLatenessMaxMilliseconds: lateness.last ?? 0,
            early: early, cancels: cancels, cancelP50Milliseconds: cancelTimes[cancelTimes.count / 2],
            cancelP99Milliseconds: cancelTimes[cancelTimes.count * 99 / 100])
    }
}
