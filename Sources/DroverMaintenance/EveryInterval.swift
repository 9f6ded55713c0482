import Logging
import ServiceLifecycle

/// Runs `pass` every `interval` until the task is cancelled or a graceful shutdown begins. A
/// pass that throws is logged once per streak of failures (Redis being away is reported by
/// everything else too) and the next pass tries again.
func everyInterval(_ interval: Duration, logger: Logger, failure: String, _ pass: @escaping @Sendable () async throws -> Void) async {
    await cancelWhenGracefulShutdown {
        var failing = false
        while !Task.isCancelled {
            do {
                try await pass()
                failing = false
            } catch is CancellationError {
                return
            } catch {
                if !failing { logger.warning("\(failure)", metadata: ["error": "\(error)"]) }
                failing = true
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
