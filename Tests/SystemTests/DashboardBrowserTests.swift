import Drover
import DroverCore
import DroverRedis
import DroverRedisStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard in a real browser: headless Chromium driven by Selenium (`Browser/dashboard.py`)
/// against a master with token auth and a worker, checked against the REST API. Screenshots of
/// each page go to `.build/dashboard-screenshots/` for a person to look at.
@Suite struct DashboardBrowserTests {
    static let python = repositoryRoot.appendingPathComponent(".build-tools/venv/bin/python").path
    static let browserPresent =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        && FileManager.default.isExecutableFile(atPath: python)

    @Test(.enabled(if: browserPresent, "scripts/setup installs chromium, chromium-driver and selenium"))
    func aPersonLogsInSeesTheQueuesOpensAJobRetriesADeadLetterAndPausesAQueue() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let token = "dashboard-admin-token-0123456789"
        try "admin \(token)\n".write(toFile: server.directory + "/tokens", atomically: true, encoding: .utf8)
        let master = try await ChildMaster.start(
            server, name: "master", extraArguments: ["--auth-file", server.directory + "/tokens"], token: token)
        defer { master.process.send(SIGKILL) }
        let worker = try ChildProcess(
            executable: try droverExecutable(),
            // Heartbeats well inside the test master's 1 s timeout, so it stays on the workers page.
            arguments: [
                "worker", "--redis", server.url, "--id", "dashboard-worker", "--queue", "default", "--queue", "mail", "--queue", "busy",
                "--heartbeat-interval", "0.2", "--log-level", "warning",
            ],
            logPath: server.directory + "/worker.log")
        defer { worker.send(SIGKILL) }
        let store = RedisJobStore(configuration: .init(redis: try RedisConfiguration(server.url)), logger: quietLogger)
        defer { Task { await store.close() } }
        let client = DroverClient(store: store)

        let injected =
            #"{"html":"<script>window.__dashboardInjected=true</script><img src=x onerror=\"window.__dashboardInjected=true\">"}"#
        let script = try await client.submit(JobRequest(type: "echo", payload: injected)).id
        let dead = try await client.submit(JobRequest(type: "flaky", payload: #"{"failTimes":1}"#, maxAttempts: 1)).id
        _ = try await client.submit(JobRequest(queue: "mail", type: "noop"))
        // A job in "busy", so the overview has its row before the page submits 2,000 more there.
        _ = try await client.submit(JobRequest(queue: "busy", type: "noop"))
        _ = try await client.submit(JobRequest(queue: "later", type: "noop", start: .after(.seconds(3600))))
        // No worker takes "bulk": its 120 jobs stay QUEUED, three pages of 50.
        _ = try await client.submit(batch: (0..<120).map { _ in JobRequest(queue: "bulk", type: "noop") })
        #expect(try await client.wait(for: script, timeout: .seconds(30)).state == .completed)
        #expect(try await client.wait(for: dead, timeout: .seconds(30)).state == .deadLetter)

        let shots = repositoryRoot.appendingPathComponent(".build/dashboard-screenshots").path
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let browser = try ChildProcess(
            executable: Self.python,
            arguments: [
                repositoryRoot.appendingPathComponent("Tests/SystemTests/Browser/dashboard.py").path, "--url", master.http, "--token",
                token,
                "--shots", shots, "--script-job", script.rawValue, "--dead-job", dead.rawValue, "--pause-queue", "mail",
                "--paged-queue", "bulk", "--busy-queue", "busy", "--scheduled-queue", "later",
            ],
            logPath: server.directory + "/browser.log")
        defer { browser.send(SIGKILL) }
        let status = await browser.waitForExit(timeout: .seconds(180))
        let output = browser.output()
        #expect(status == 0, "\(output.suffix(3000))")
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") })
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])

        #expect(seen["login_first"] as? Bool == true)
        // The page's counts are the REST API's.
        let shown = try #require(seen["queues"] as? [String: [String: Int]])
        for counts in try await client.queueCounts() where counts.queue == "mail" || counts.queue == "default" {
            let row = try #require(shown[counts.queue], "\(counts.queue) is not on the overview: \(line)")
            for state in JobState.observable where row[state.rawValue] != nil {
                // The retry happened after the overview was read: one dead letter fewer now.
                let now = counts.count(state)
                let then = row[state.rawValue]!
                #expect(
                    then == now || (state == .deadLetter && then == now + 1) || (state == .completed && then + 1 == now),
                    "\(counts.queue) \(state)")
            }
        }
        #expect((seen["script_payload_text"] as? String)?.contains("<script>window.__dashboardInjected=true</script>") == true)
        #expect(seen["script_ran"] as? Bool == false && seen["script_elements_in_payload"] as? Int == 0)
        #expect((seen["dead_history"] as? [String])?.suffix(2) == ["FAILED", "DEAD_LETTER"])
        #expect(seen["retried_state"] as? String == "COMPLETED")
        #expect(try await client.job(dead)?.state == .completed)
        #expect(seen["paused_shown"] as? Bool == true)
        #expect(try await client.queueCounts().first { $0.queue == "mail" }?.paused == true)
        // 100 updates a second: redrawn at most once a frame, with most of the main thread free,
        // never blocked long (a loaded machine delays timers too, hence the margins).
        let updates = try #require(seen["updates"] as? [String: Double], "\(line)")
        let renders = try #require(updates["renders"])
        let seconds = try #require(updates["seconds"])
        #expect(updates["injected"] == 300 && renders >= 1 && renders < 300, "\(updates)")
        #expect(try #require(updates["renderMs"]) < seconds * 1000 * 0.3, "\(updates)")
        #expect(try #require(updates["maxLagMs"]) < 500, "\(updates)")
        // Real work shows up live, with its rate and the masters' samples behind the chart.
        #expect(seen["live_completed_ms"] != nil && (seen["chart_samples"] as? Int ?? 0) >= 2, "\(line)")
        // Page by page, the REST API's order, each job once; back to the page before.
        var expected: [String] = []
        var cursor: JobCursor?
        repeat {
            let page = try await client.jobs(queue: "bulk", state: .queued, after: cursor, limit: 50)
            expected += page.jobs.map(\.id.rawValue)
            cursor = page.next
        } while cursor != nil
        let pages = try #require(seen["paged_ids"] as? [[String]])
        #expect(pages.map(\.count) == [50, 50, 20])
        #expect(pages.flatMap { $0 } == expected)
        #expect(seen["previous_page_shown"] as? Bool == true)
        let due = try #require(seen["due_shown"] as? String, "\(line)")
        #expect(!due.isEmpty && due != "—", "a delayed job's due time: \(due)")
        print("dashboard in Chromium: page load to first data (ms) \(seen["timings"] ?? [:]); 100 updates/s: \(updates)")
    }
}
