import DroverCore
import Foundation
import Metrics
import Prometheus
import Synchronization

/// `/metrics` in Prometheus text format, through swift-metrics into swift-prometheus.
///
/// Job numbers come from Redis at each scrape, so every master reports the whole cluster,
/// whoever submitted or ran the jobs: lifetime totals from each queue's stats hash advance
/// Prometheus counters by their growth since the last scrape; queue depths and live workers
/// are gauges; run times replay Redis's histogram buckets into a Prometheus histogram with
/// the same bounds (bucket counts exact; the sum counts each run at its bucket's bound).
public final class MetricsExporter: Sendable {
    let store: any JobStore
    let heartbeatTimeout: Duration
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    private let seen = Mutex<[String: Int]>([:])

    /// The metric each store counter is exported as.
    static func metric(_ counter: JobCounter) -> String {
        switch counter {
        case .submitted: "drover_jobs_submitted_total"
        case .started: "drover_jobs_started_total"
        case .completed: "drover_jobs_completed_total"
        case .failed: "drover_jobs_failed_total"
        case .retried: "drover_jobs_retried_total"
        case .deadLettered: "drover_jobs_dead_lettered_total"
        case .reassigned: "drover_jobs_reassigned_total"
        case .staleReports: "drover_stale_reports_total"
        case .scheduled: "drover_jobs_scheduled_total"
        case .cancelled: "drover_jobs_cancelled_total"
        }
    }
    static let runTime = "drover_job_run_time_seconds"

    /// The metric each queue counter is exported as.
    static func metric(_ counter: QueueCounter) -> String {
        switch counter {
        case .limitedClaims: "drover_claims_limited_total"
        }
    }

    init(store: any JobStore, heartbeatTimeout: Duration) {
        self.store = store
        self.heartbeatTimeout = heartbeatTimeout
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[Self.runTime] = RuntimeHistogram.bucketsMs.map { .milliseconds($0) }
        self.registry = registry
        self.factory = factory
    }

    /// Counts one API request by operation and status.
    func recordRequest(op: String, status: Int, duration: Duration) {
        Counter(label: "drover_api_requests_total", dimensions: [("op", op), ("status", String(status))], factory: factory).increment()
    }

    public func render() async throws -> String {
        for c in try await store.queueCounts() {
            for state in JobState.observable {
                Gauge(label: "drover_queue_jobs", dimensions: [("queue", c.queue), ("state", state.rawValue)], factory: factory)
                    .record(Double(c.count(state)))
            }
            Gauge(label: "drover_queue_paused", dimensions: [("queue", c.queue)], factory: factory).record(c.paused ? 1 : 0)
            // 0: no such limit.
            Gauge(label: "drover_queue_rate_limit_per_second", dimensions: [("queue", c.queue)], factory: factory)
                .record(c.limits?.rate.map { Double($0.count) * 1000 / Double($0.periodMs) } ?? 0)
            Gauge(label: "drover_queue_concurrency_limit", dimensions: [("queue", c.queue)], factory: factory)
                .record(Double(c.limits?.concurrency ?? 0))
        }
        for (queue, stats) in try await store.statistics() {
            for (field, value) in stats {
                let parts = field.split(separator: ":", maxSplits: 2).map(String.init)
                if let counter = QueueCounter(rawValue: field) {
                    let dimensions = [("queue", queue)]
                    let metric = Self.metric(counter)
                    let delta = advance(metric, dimensions, to: value)
                    if delta > 0 { Counter(label: metric, dimensions: dimensions, factory: factory).increment(by: Int64(delta)) }
                } else if parts.count == 2, let counter = JobCounter(rawValue: parts[0]) {
                    let dimensions = [("queue", queue), ("type", parts[1])]
                    let metric = Self.metric(counter)
                    let delta = advance(metric, dimensions, to: value)
                    if delta > 0 { Counter(label: metric, dimensions: dimensions, factory: factory).increment(by: Int64(delta)) }
                } else if parts.count == 3, parts[0] == "runtime" {
                    let dimensions = [("queue", queue), ("type", parts[1])]
                    let delta = advance(Self.runTime + "|" + parts[2], dimensions, to: value)
                    // The +Inf bucket is replayed just past the last bound.
                    let ms = Int64(parts[2]) ?? Int64(RuntimeHistogram.bucketsMs.last! * 2)
                    let timer = Metrics.Timer(label: Self.runTime, dimensions: dimensions, factory: factory)
                    for _ in 0..<max(0, delta) { timer.recordMilliseconds(ms) }
                }
            }
        }
        let workers = try await store.workers()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let alive = workers.filter { ($0.lastHeartbeat ?? 0) > now - heartbeatTimeout.milliseconds }
        Gauge(label: "drover_workers_alive", factory: factory).record(Double(alive.count))
        Gauge(label: "drover_workers_in_flight", factory: factory).record(Double(alive.map(\.inFlight).reduce(0, +)))
        return registry.emitToString()
    }

    /// How far a total read from Redis grew since the last scrape.
    private func advance(_ name: String, _ dimensions: [(String, String)], to total: Int) -> Int {
        let key = name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return seen.withLock { seen -> Int in
            let previous = seen[key] ?? 0
            seen[key] = max(previous, total)
            return total - previous
        }
    }
}
