import DroverCore
import Logging
import ServiceLifecycle

/// Samples every queue's lifetime counters once a second into the store
/// (``JobStore/sampleThroughput()``), the history behind the dashboard's chart of the last
/// fifteen minutes. Every master runs one; the store keeps one sample a second whichever
/// master took it, so every master's dashboard draws the same chart.
struct ThroughputSampler: Service {
    let store: any JobStore
    var interval: Duration = .seconds(1)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await store.sampleThroughput()
                    failing = false
                } catch is CancellationError {
                    return
                } catch {
                    // Logged once per streak: Redis being away is reported by everything else too.
                    if !failing { logger.warning("throughput sample failed, will retry", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}
