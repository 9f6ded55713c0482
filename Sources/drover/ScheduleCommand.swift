import ArgumentParser
import Drover
import DroverCore
import Foundation

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Submit jobs on a cron schedule: add, list, remove, pause and resume schedules.",
        discussion: """
            However many masters and workers run, each firing submits one job (its idempotency key
            is cron:<name>:<fire time ms>). Firings are made by the promoter, in every master and in
            every worker that runs maintenance.

            Examples:
              drover schedule add nightly-report '0 3 * * *' report '{"scope":"all"}' --time-zone Europe/Berlin
              drover schedule add heartbeat '*/10 * * * * *' noop --queue ops --missed once
              drover schedule list
              drover schedule pause nightly-report
              drover schedule resume nightly-report
              drover schedule rm nightly-report
            """,
        subcommands: [Add.self, List.self, Remove.self, Pause.self, Resume.self],
        defaultSubcommand: List.self
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a schedule, or replace the one of that name.",
            discussion: """
                CRON is five fields (minute hour day-of-month month day-of-week) or six with seconds
                first; ranges 1-5, steps */15, lists 1,15, names JAN and MON-FRI, and @daily,
                @hourly, @weekly, @monthly, @yearly. Times are read in --time-zone: a time that a
                change to summer time skips fires right after the change, and one the change back
                repeats fires once.

                Example:
                  drover schedule add weekday-digest '30 8 * * MON-FRI' digest '{}' --time-zone America/New_York
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "The schedule's name: letters, digits, _ - . :")
        var name: String

        @Argument(help: "The cron expression (quote it).")
        var cron: String

        @Argument(help: "The job type each firing submits.")
        var type: String

        @Argument(help: "The payload, as JSON.")
        var payload: String = "{}"

        @Option(help: "The queue.")
        var queue: String = "default"

        @Option(help: "The IANA time zone the times are read in.")
        var timeZone: String = "UTC"

        @Option(help: "Firings missed while nothing ran: skip them, or submit once for them all.")
        var missed: Schedule.MissedFirings = .skip

        @Option(help: "Attempts before a job is dead-lettered.")
        var maxAttempts: Int?

        @Option(help: "Retry backoff, e.g. exponential:1000:3600000:0.2.")
        var backoff: String?

        @Option(help: "Seconds one run may take.")
        var timeout: Double?

        @Option(help: "0 to 9: within its queue a higher priority starts first.")
        var priority: Int?

        @Flag(help: "Submit nothing while the previous firing's job is unfinished.")
        var unique = false

        @Flag(help: "Add it paused.")
        var paused = false

        func run() async throws {
            let job = JobRequest(
                queue: queue, type: type, payload: payload, maxAttempts: maxAttempts, backoff: try backoff.map(SubmitCommand.parseBackoff),
                timeoutMs: timeout.map { Int(($0 * 1000).rounded()) }, priority: priority, unique: unique ? UniqueLock() : nil)
            let schedule = Schedule(name: name, cron: cron, timeZone: timeZone, job: job, missedFirings: missed, paused: paused)
            await connection.withClient(label: "drover.schedule") { client in
                let (stored, created) = try await client.schedule(schedule)
                print("\(stored.name) \(created ? "added" : "replaced"); next firing \(ScheduleCommand.time(stored.nextFireAt))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every schedule with its next and last firing (the default).", discussion: "Example:\n  drover schedule list")

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            await connection.withClient(label: "drover.schedule") { client in
                let schedules = try await client.schedules()
                Output.table(
                    ["NAME", "CRON", "TIME ZONE", "QUEUE", "TYPE", "STATE", "NEXT", "LAST", "FIRINGS"],
                    schedules.map { s in
                        [
                            s.name, s.cron, s.timeZone, s.job.queue, s.job.type, s.paused ? "paused" : "active",
                            ScheduleCommand.time(s.nextFireAt),
                            ScheduleCommand.time(s.lastFireAt), "\(s.firings)",
                        ]
                    })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove schedules (the jobs they submitted stay).",
            discussion: "Example:\n  drover schedule rm nightly-report")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Schedule names.")
        var names: [String]

        func run() async throws {
            try await connection.forEach(names, label: "drover.schedule") { client, name in
                try await client.removeSchedule(named: name)
                print("\(name) removed")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause schedules: they fire nothing until resumed.", discussion: "Example:\n  drover schedule pause nightly-report")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Schedule names.")
        var names: [String]

        func run() async throws {
            try await connection.forEach(names, label: "drover.schedule") { client, name in
                _ = try await client.pauseSchedule(named: name)
                print("\(name) paused")
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume schedules: they go on from their next time after now.",
            discussion: "Example:\n  drover schedule resume nightly-report")

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: "Schedule names.")
        var names: [String]

        func run() async throws {
            try await connection.forEach(names, label: "drover.schedule") { client, name in
                let schedule = try await client.resumeSchedule(named: name)
                print("\(name) resumed; next firing \(ScheduleCommand.time(schedule.nextFireAt))")
            }
        }
    }

    /// An RFC 3339 time in UTC, or `-`.
    static func time(_ ms: Int64?) -> String {
        guard let ms else { return "-" }
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000))
    }
}

extension Schedule.MissedFirings: ExpressibleByArgument {}
