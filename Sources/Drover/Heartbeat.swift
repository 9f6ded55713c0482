import DroverCore
import Logging

/// Tells the store every `interval` that the worker is alive and what it is doing, so the
/// reaper leaves its jobs alone. One beat failing (Redis briefly away) is logged and the
/// next one tries again: the heartbeat timeout is several intervals long.
struct Heartbeat {
    let store: any JobStore
    let interval: Duration
    let logger: Logger
    let info: @Sendable () -> WorkerInfo

    func beat() async throws {
        try await store.heartbeat(info())
    }

    func run() async {
        var failing = false
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                try await beat()
                if failing { logger.info("heartbeat restored") }
                failing = false
            } catch {
                if !failing { logger.warning("heartbeat failed; jobs keep running", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}
