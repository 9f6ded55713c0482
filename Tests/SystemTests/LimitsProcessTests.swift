import Drover
import DroverTestSupport
import Foundation
import Testing

/// Queue limits held across real worker processes, by the store's clock.
@Suite struct LimitsProcessTests {
    /// When each job of `ids` started and ended (ms, Redis's clock), and who ran it.
    static func runs(_ store: RedisJobStore, _ ids: [JobID], queue: String) async throws -> [(start: Int64, end: Int64, worker: String)] {
        let client = DroverClient(store: store)
        var runs: [(start: Int64, end: Int64, worker: String)] = []
        for id in ids {
            let job = try await client.wait(for: id, timeout: .seconds(60))
            #expect(job.state == .completed, "\(id) is \(job.state)")
            let start = job.timestamps[JobState.running.timestampField] ?? 0
            let end = job.timestamps[JobState.completed.timestampField] ?? 0
            runs.append((start, end, job.history.last?.worker ?? ""))
        }
        return runs.sorted { $0.start < $1.start }
    }

    @Test func aRateLimitHoldsAcrossThreeWorkerProcesses() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        let rate = 50
        let ids = try await cluster.store.submit((0..<(rate + 200)).map { _ in JobRequest(queue: "api", type: "noop") }).map(\.id)
        try await cluster.store.setLimits(QueueLimits(rate: .init(count: rate, periodMs: 1000)), queue: "api")
        for n in 1...3 { try cluster.startWorker("w\(n)", ["--queue", "api"]) }

        let runs = try await Self.runs(cluster.store, ids, queue: "api")
        // The bucket's promise, for every stretch of starts: no more than a full bucket plus
        // what it earned meanwhile.
        var worst = 0.0
        for i in runs.indices {
            for j in runs.indices where j > i {
                let allowed = Double(rate) + Double(rate) * Double(runs[j].start - runs[i].start) / 1000
                worst = max(worst, Double(j - i + 1) - allowed)
            }
        }
        #expect(worst <= 1, "\(worst) starts over what the bucket allows")
        // Once the bucket has run dry, the steady rate is the limit's. A burst a loaded machine
        // spreads over time leaves tokens earned meanwhile to the starts right after it, so the
        // rate is read over the last 150 starts, two seconds and more after the first.
        let steady = runs.suffix(150)
        let seconds = Double(steady.last!.start - steady.first!.start) / 1000
        let measured = Double(steady.count - 1) / seconds
        print("rate limit across 3 worker processes: limit \(rate)/s, measured \(String(format: "%.2f", measured))/s after the burst")
        // Never faster than the limit (the bucket's promise); slower only by what a loaded machine
        // costs three worker processes.
        #expect(measured <= Double(rate) * 1.05, "\(measured) jobs/s against a limit of \(rate)/s")
        #expect(measured >= Double(rate) * 0.8, "\(measured) jobs/s: the workers did not keep up with \(rate)/s")
        #expect(Set(runs.map(\.worker)).count == 3, "every worker took part")
        let limited = try await cluster.store.statistics()["api"]?[QueueCounter.limitedClaims.rawValue] ?? 0
        #expect(limited > 0)
    }

    @Test func aConcurrencyLimitHoldsAcrossThreeWorkerProcesses() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        let limit = 3
        let ids = try await cluster.store.submit((0..<30).map { _ in JobRequest(queue: "mail", type: "sleep", payload: #"{"ms":100}"#) })
            .map(\.id)
        try await cluster.store.setLimits(QueueLimits(concurrency: limit), queue: "mail")
        for n in 1...3 { try cluster.startWorker("w\(n)", ["--queue", "mail"]) }

        let runs = try await Self.runs(cluster.store, ids, queue: "mail")
        // The most jobs running at once, from the starts and ends the store recorded.
        let events = runs.flatMap { [($0.start, 1), ($0.end, -1)] }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var running = 0
        var most = 0
        for (_, change) in events {
            running += change
            most = max(most, running)
        }
        #expect(most == limit, "at most \(most) ran at once under a limit of \(limit)")
        let span = Double(runs.map(\.end).max()! - runs.map(\.start).min()!) / 1000
        print("concurrency limit across 3 worker processes: limit \(limit), at most \(most) at once, 30 × 100 ms jobs in \(span) s")
    }
}
