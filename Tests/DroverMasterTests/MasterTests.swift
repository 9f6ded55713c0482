import AsyncHTTPClient
import Drover
import DroverAPI
import DroverCore
import DroverMaster
import DroverRemote
import DroverTestSupport
import Foundation
import NIOHTTP1
import Testing

/// A live master: REST, TCP, remote workers, errors, metrics.
@Suite struct MasterTests {
    func field(_ json: String, _ key: String) -> String? {
        guard let raw = try? JSONScanner.objectFields(json)[key] else { return nil }
        return (try? WireFormat.decode(String.self, from: raw)) ?? raw
    }

    @Test func restSubmitRetryDeadLetterAndWait() async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        let worker = m.directWorker(id: "direct")
        let running = start(worker)
        defer {
            worker.shutdown()
            running.cancel()
        }

        // submit → COMPLETED, long-polled; the payload comes back byte for byte.
        let created = try await m.request(.POST, "/v1/jobs", body: #"{"type":"echo","payload":{"b": [1, 2.50], "a":"x"}}"#)
        #expect(created.status == 201)
        let id = try #require(field(created.body, "id"))
        let done = try await m.request(.GET, "/v1/jobs/\(id)?wait=20s")
        #expect(done.status == 200)
        #expect(field(done.body, "state") == "COMPLETED")
        #expect(try JSONScanner.objectFields(done.body)["result"] == #"{"b": [1, 2.50], "a":"x"}"#)

        // flaky: retried to success.
        let flaky = try #require(
            field(
                try await m.request(
                    .POST, "/v1/jobs", body: #"{"type":"flaky","payload":{"failTimes":2},"backoff":{"strategy":"fixed","baseMs":50}}"#
                ).body, "id"))
        let flakyDone = try await m.request(.GET, "/v1/jobs/\(flaky)?wait=20s")
        #expect(field(flakyDone.body, "state") == "COMPLETED")
        #expect(field(flakyDone.body, "attempt") == "3")

        // fail → DEAD_LETTER, listed, retried from it by an operator.
        let failing = try #require(
            field(
                try await m.request(
                    .POST, "/v1/jobs",
                    body: #"{"type":"fail","payload":{"message":"no"},"maxAttempts":2,"backoff":{"strategy":"fixed","baseMs":10}}"#
                ).body,
                "id"))
        let dead = try await m.request(.GET, "/v1/jobs/\(failing)?wait=20s")
        #expect(field(dead.body, "state") == "DEAD_LETTER")
        #expect(field(dead.body, "error") == "no")
        let letters = try await m.request(.GET, "/v1/dead-letters")
        #expect(letters.body.contains(failing))
        let retried = try await m.request(.POST, "/v1/dead-letters/\(failing)/retry")
        #expect(retried.status == 200)
        #expect(try await m.request(.GET, "/v1/jobs/\(failing)?wait=20s").body.contains(#""state":"DEAD_LETTER""#))
        let again = try #require(try await m.store.job(JobID(failing)!, queue: nil))
        #expect(again.attempt == 4)
        #expect(again.history.map(\.state).contains(.queued))
        let purged = try await m.request(.DELETE, "/v1/dead-letters?queue=default")
        #expect(field(purged.body, "purged") == "1")

        // A batch in one request.
        let batch = try await m.request(
            .POST, "/v1/jobs/batch", body: #"{"jobs":[{"type":"noop"},{"type":"echo","payload":7,"queue":"default"}]}"#)
        #expect(batch.status == 201)
        let ids = try JSONScanner.arrayElements(try #require(try JSONScanner.objectFields(batch.body)["jobs"])).compactMap {
            field($0, "id")
        }
        #expect(ids.count == 2)
        for id in ids { #expect(field(try await m.request(.GET, "/v1/jobs/\(id)?wait=20s").body, "state") == "COMPLETED") }

        // Queues, workers, jobs by state.
        #expect(try await m.request(.GET, "/v1/queues").body.contains(#""queue":"default""#))
        #expect(try await m.request(.GET, "/v1/workers").body.contains(#""id":"direct""#))
        // A page of one, then the next by its cursor: the store's order, and a next only if more follow.
        let page = try await m.request(.GET, "/v1/queues/default/jobs?state=COMPLETED&limit=1").body
        let next = try #require(field(page, "next"), "\(page)")
        let second = try await m.request(.GET, "/v1/queues/default/jobs?state=COMPLETED&limit=1&cursor=\(next)").body
        guard case .jobPage(let first) = try APIResult(.jobs, json: page), case .jobPage(let last) = try APIResult(.jobs, json: second)
        else {
            Issue.record("not pages: \(page) \(second)")
            return
        }
        let completed: [JobID] = try await m.store.jobs(queue: "default", state: .completed, limit: 100).map { $0.id }
        #expect(first.jobs.map(\.id) + last.jobs.map(\.id) == Array(completed.prefix(2)), "\(second)")
        #expect((last.next == nil) == (completed.count == 2))
        let bad = try await m.request(.GET, "/v1/queues/default/jobs?state=COMPLETED&cursor=r1:nope")
        #expect(bad.status == 422 && bad.body.contains("cursor"), "\(bad.body)")
        #expect(try await m.request(.GET, "/health").status == 200)
    }

    @Test func restErrorsHaveTheRightStatusAndShape() async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        let cases: [(HTTPMethod, String, String?, Int, String)] = [
            (.POST, "/v1/jobs", "{not json", 400, "malformed"),
            (.POST, "/v1/jobs", "[1,2]", 400, "malformed"),
            (.POST, "/v1/jobs", "", 400, "malformed"),
            (.GET, "/v1/jobs/01M8N945K80AZ4KQXAB38NSFAP", nil, 404, "not_found"),
            (.GET, "/v1/jobs/not-an-id", nil, 422, "invalid_field"),
            (.GET, "/v1/nowhere", nil, 404, "not_found"),
            (.POST, "/v1/jobs", #"{"payload":{}}"#, 422, "invalid_field"),
            (.POST, "/v1/jobs", #"{"type":"bad type"}"#, 422, "invalid_field"),
            (.POST, "/v1/jobs", #"{"type":"t","queue":"a:b"}"#, 422, "invalid_field"),
            (.POST, "/v1/jobs", #"{"type":"t","maxAttempts":"three"}"#, 422, "invalid_field"),
            (.POST, "/v1/jobs", #"{"type":"t","maxAttempts":0}"#, 422, "invalid_field"),
            (.POST, "/v1/jobs", #"{"type":"t","backoff":{"strategy":"sometimes","baseMs":1}}"#, 422, "invalid_field"),
            (.POST, "/v1/jobs", #"{"type":"t","payload":"\#(String(repeating: "x", count: 1_100_000))"}"#, 413, "payload_too_large"),
            // Over the master's body limit (2 MiB in this fixture), before any JSON is read.
            (
                .POST, "/v1/jobs/batch", #"{"jobs":[{"type":"t","payload":"\#(String(repeating: "x", count: 2_200_000))"}]}"#, 413,
                "payload_too_large"
            ),
            (.POST, "/v1/jobs", String(repeating: "[", count: 100) + String(repeating: "]", count: 100), 400, "malformed"),
            (.GET, "/v1/queues/default/jobs?state=SLEEPING", nil, 422, "invalid_field"),
            (.GET, "/v1/queues/default/jobs?state=QUEUED&limit=0", nil, 422, "invalid_field"),
        ]
        for (method, path, body, status, code) in cases {
            let response = try await m.request(method, path, body: body)
            #expect(response.status == status, "\(method) \(path) \(body?.prefix(40) ?? ""): \(response.body.prefix(200))")
            let error = try? JSONScanner.objectFields(try #require(try JSONScanner.objectFields(response.body)["error"]))
            #expect(error?["code"] == "\"\(code)\"", "\(path): \(response.body.prefix(200))")
            #expect(error?["message"] != nil)
        }
        // 409: retrying a job that is not a dead letter.
        let id = try #require(field(try await m.request(.POST, "/v1/jobs", body: #"{"type":"noop"}"#).body, "id"))
        let conflict = try await m.request(.POST, "/v1/dead-letters/\(id)/retry")
        #expect(conflict.status == 409)
        #expect(conflict.body.contains(#""code":"illegal_transition""#))
        // Nothing from the bad requests was written.
        #expect(try await m.store.queueCounts().map(\.queued) == [1])
    }

    @Test func tcpSpeaksTheSameOperationsAndSurvivesGarbage() async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        let client = try TCPLineClient(port: m.tcpPort)
        client.send(#"{"requestId":1,"op":"submit","type":"noop","payload":{"k":[true,null]}}"# + "\n")
        let submitted = try #require(await client.nextLine())
        #expect(submitted.contains(#""requestId":1,"ok":true,"status":201"#))
        client.send(#"{"requestId":"two","op":"queues"}"# + "\n")
        #expect(try #require(await client.nextLine()).contains(#""requestId":"two","ok":true"#))

        // Malformed and oversized frames get error frames; the connection stays up…
        client.send("this is not json\n")
        #expect(try #require(await client.nextLine()).contains(#""code":"malformed""#))
        client.send(#"{"requestId":3,"op":"nonsense"}"# + "\n")
        let unknown = try #require(await client.nextLine())
        #expect(unknown.contains(#""requestId":3,"ok":false"#) && unknown.contains("unknown operation"))
        // A good frame resets the count of bad ones.
        client.send(#"{"requestId":31,"op":"health"}"# + "\n")
        #expect(try #require(await client.nextLine()).contains(#""requestId":31,"ok":true"#))
        client.send(String(repeating: "x", count: 100_000) + "\n")
        #expect(try #require(await client.nextLine()).contains(#""code":"payload_too_large""#))
        // …until garbage keeps coming: three bad frames in a row close it.
        let other = try TCPLineClient(port: m.tcpPort)
        for _ in 0..<3 { other.send("garbage\n") }
        for _ in 0..<3 { #expect(await other.nextLine()?.contains("malformed") == true) }
        #expect(await other.nextLine() == nil)
        // The first connection and new ones carry on.
        client.send(#"{"requestId":4,"op":"health"}"# + "\n")
        #expect(try #require(await client.nextLine()).contains(#""requestId":4,"ok":true"#))
        let fresh = try TCPLineClient(port: m.tcpPort)
        fresh.send(#"{"requestId":5,"op":"workers"}"# + "\n")
        #expect(try #require(await fresh.nextLine()).contains(#""requestId":5,"ok":true"#))
    }

    @Test(arguments: ["http", "tcp"])
    func remoteWorkersRunJobsThroughTheMaster(_ scheme: String) async throws {
        // No reaping here: on a loaded machine a 2 s timeout could take the worker for lost and
        // cost the flaky job an attempt, which is not what this test is about.
        let m = try await MasterFixture.start(heartbeatTimeout: .seconds(30))
        defer { Task { await m.stop() } }
        let (worker, remote) = try m.remoteWorker(id: "remote-\(scheme)", via: scheme == "http" ? m.httpURL : m.tcpURL)
        let running = start(worker)
        let client = DroverClient(store: remote)
        let ids = try await client.submit(batch: (0..<20).map { JobRequest(type: "echo", payload: "\($0)") }).map(\.id)
        let flaky = try await client.submit(JobRequest(type: "flaky", payload: #"{"failTimes":1}"#, backoff: .fixed(ms: 20))).id
        for (i, id) in ids.enumerated() {
            let job = try await client.wait(for: id, timeout: .seconds(30))
            #expect(job.state == .completed && job.result == "\(i)" && job.worker == "remote-\(scheme)")
        }
        #expect(try await client.result(of: flaky, as: Int.self, timeout: .seconds(30)) == 2)
        #expect(try await client.workers().map(\.id) == ["remote-\(scheme)"])
        worker.shutdown()
        try await running.value
        #expect(try await m.store.workers().isEmpty)
        await remote.close()
    }

    @Test func metricsCountWhatHappened() async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        let worker = m.directWorker(id: "counted")
        let running = start(worker)
        defer {
            worker.shutdown()
            running.cancel()
        }
        let client = DroverClient(store: m.store)
        let ok = try await client.submit(batch: (0..<3).map { _ in JobRequest(type: "noop") }).map(\.id)
        let bad = try await client.submit(JobRequest(type: "fail", payload: #"{"message":"x"}"#, maxAttempts: 2, backoff: .fixed(ms: 10)))
            .id
        for id in ok + [bad] { _ = try await client.wait(for: id, timeout: .seconds(30)) }
        let metrics = try await m.request(.GET, "/metrics").body
        #expect(metrics.contains(#"drover_jobs_completed_total{queue="default",type="noop"} 3"#))
        #expect(metrics.contains(#"drover_jobs_submitted_total{queue="default",type="fail"} 1"#))
        #expect(metrics.contains(#"drover_jobs_failed_total{queue="default",type="fail"} 2"#))
        #expect(metrics.contains(#"drover_jobs_retried_total{queue="default",type="fail"} 1"#))
        #expect(metrics.contains(#"drover_jobs_dead_lettered_total{queue="default",type="fail"} 1"#))
        #expect(metrics.contains(#"drover_queue_jobs{queue="default",state="DEAD_LETTER"} 1.0"#))
        #expect(metrics.contains(#"drover_job_run_time_seconds_count{queue="default",type="noop"} 3"#))
        #expect(metrics.contains("drover_workers_alive 1.0"))
        // Counters move: two more jobs, and a second scrape shows them.
        for id in try await client.submit(batch: [JobRequest(type: "noop"), JobRequest(type: "noop")]).map(\.id) {
            _ = try await client.wait(for: id, timeout: .seconds(30))
        }
        #expect(try await m.request(.GET, "/metrics").body.contains(#"drover_jobs_completed_total{queue="default",type="noop"} 5"#))
    }

    @Test func queueLimitsAreSetOverRESTAndShownInQueuesAndMetrics() async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        _ = try await m.store.submit((0..<3).map { _ in JobRequest(queue: "mail", type: "send") })
        // Refused, with nothing written: a rate of 0, a period of null, an unknown queue.
        #expect(try await m.request(.PUT, "/v1/queues/mail/limits", body: #"{"rate":{"count":0}}"#).status == 422)
        #expect(try await m.request(.PUT, "/v1/queues/mail/limits", body: #"{"rate":{"count":5,"periodMs":null}}"#).status == 422)
        #expect(try await m.request(.PUT, "/v1/queues/nope/limits", body: #"{"concurrency":2}"#).status == 404)
        #expect(try await m.store.queueCounts().first?.limits == nil)

        let set = try await m.request(.PUT, "/v1/queues/mail/limits", body: #"{"rate":{"count":2,"periodMs":60000},"concurrency":4}"#)
        #expect(set.status == 200)
        #expect(set.body == #"{"queue":"mail","limits":{"concurrency":4,"rate":{"count":2,"periodMs":60000}}}"#)
        #expect(try await m.request(.GET, "/v1/queues").body.contains(#""limits":{"concurrency":4,"rate":{"count":2,"periodMs":60000}}"#))
        // Two tokens for three jobs: the claim is held back once.
        #expect(try await m.store.claim(queues: ["mail"], worker: "w", max: 3, start: true).count == 2)
        let metrics = try await m.request(.GET, "/metrics").body
        #expect(metrics.contains(#"drover_claims_limited_total{queue="mail"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"drover_queue_concurrency_limit{queue="mail"} 4.0"#))
        #expect(metrics.contains(#"drover_queue_rate_limit_per_second{queue="mail"} 0.0333"#))

        #expect(try await m.request(.PUT, "/v1/queues/mail/limits", body: "{}").body == #"{"queue":"mail","limits":{}}"#)
        #expect(try await m.store.queueCounts().first?.limits == nil)
    }

    @Test(arguments: ["rest-client.py", "rest-client.sh"])
    func theRESTClientExamplesSubmitAndWait(_ script: String) async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        let worker = m.directWorker(id: "for-\(script)")
        let running = start(worker)
        defer {
            worker.shutdown()
            running.cancel()
        }
        let path = repositoryRoot.appendingPathComponent("Examples/\(script)").path
        let interpreter = script.hasSuffix(".py") ? "python3" : "bash"
        let process = try ChildProcess(
            executable: try RedisServer.findExecutable(interpreter), arguments: [path, m.httpURL, "echo", #"{"from":"example"}"#],
            logPath: m.server.directory + "/\(script).log")
        defer { process.send(SIGKILL) }
        #expect(await process.waitForExit(timeout: .seconds(60)) == 0, "\(process.output())")
        #expect(process.output().contains(#""from":"example""#) || process.output().contains(#""from": "example""#), "\(process.output())")
    }
}
