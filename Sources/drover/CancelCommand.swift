import ArgumentParser
import Drover
import DroverCore
import Foundation

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel jobs: they never run (again).",
        discussion: """
            A job that has not started (SCHEDULED, QUEUED, RETRY_QUEUED) is CANCELLED at once. A
            RUNNING job's worker is told to stop it: its handler is cancelled, and the job ends
            CANCELLED. With --wait, waits for running ones to end. Exits 1 if a job had finished
            already or does not exist.

            Examples:
              drover cancel 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC
              drover cancel 01JDZ6Q1S2T3V4W5X6Y7Z8A9BC --wait 30
              drover submit noop --delay 1h | drover cancel -
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Job ids, or - to read them from standard input.")
    var ids: [String]

    @Option(name: .long, help: "The jobs' queue (saves a lookup).")
    var queue: String?

    @Option(name: .long, help: "Wait up to this many seconds for running jobs to end CANCELLED.")
    var wait: Double?

    func run() async throws {
        let jobIDs = jobIDs(ids)
        let failed = await connection.withClient(label: "drover.cancel") { client in
            var failed = 0
            var stopping: [JobID] = []
            for id in jobIDs {
                do {
                    switch try await client.cancel(id, queue: queue) {
                    case .cancelled: print("\(id) CANCELLED")
                    case .stopping(let worker):
                        print("\(id) RUNNING on \(worker ?? "?"): told to stop")
                        stopping.append(id)
                    }
                } catch {
                    failed += 1
                    warn("\(id): \(error)")
                }
            }
            if let wait {
                let deadline = ContinuousClock.now + Duration(seconds: wait)
                for id in stopping {
                    let job = try? await client.wait(for: id, queue: queue, timeout: max(.zero, deadline - .now))
                    print("\(id) \(job?.state.rawValue ?? "unknown")")
                    if job?.state != .cancelled { failed += 1 }
                }
            }
            return failed
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
