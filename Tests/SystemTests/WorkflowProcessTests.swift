import Drover
import DroverCore
import DroverRedisStore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Workflows on real worker processes, killed where it hurts most: in the middle of a fan-in,
/// and right after a handler's effect and before its completion.
@Suite struct WorkflowProcessTests {
    static func examplePath(_ name: String) throws -> String {
        URL(fileURLWithPath: try droverExecutable()).deletingLastPathComponent().appendingPathComponent(name).path
    }

    @Test func aWorkerKilledInTheMiddleOfAFanInLosesNoNodeAndTheJoinRunsOnce() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let retried = JobRequest(type: "sleep", payload: #"{"ms":50}"#, maxAttempts: 5, backoff: .fixed(ms: 20))
        let middle = (0..<300).map { WorkflowJob(name: "m\($0)", job: retried, dependsOn: ["split"]) }
        let submitted = try await cluster.store.submitWorkflow(
            WorkflowRequest(
                jobs: [WorkflowJob(name: "split", job: JobRequest(type: "noop"))] + middle
                    + [WorkflowJob(name: "join", job: JobRequest(type: "noop"), dependsOn: middle.map { WorkflowEdge($0.name) })]))
        #expect(
            try await eventually(timeout: .seconds(60)) {
                let status = try await cluster.store.workflow(submitted.id, queue: "default")
                return (status?.jobs.filter { $0.state == .completed }.count ?? 0) >= 60
            })
        let w1 = try #require(cluster.worker("w1"))
        w1.send(SIGKILL)
        _ = await w1.waitForExit(timeout: .seconds(5))
        // What the dead worker held: each must run again, on w2.
        let held = (try await cluster.redis.send("LRANGE", "drover:{default}:active:w1", 0, -1).array ?? []).compactMap(\.string)

        let status = try await DroverClient(store: cluster.store).wait(forWorkflow: submitted.id, timeout: .seconds(120))
        #expect(status.state == .completed && status.jobs.allSatisfy { $0.state == .completed })
        let join = try #require(try await cluster.store.job(submitted.jobs["join"]!, queue: "default"))
        #expect(join.attempt == 1 && join.history.filter { $0.state == .queued }.count == 1)
        for id in held.compactMap(JobID.init) {
            #expect(try await cluster.store.job(id, queue: "default")?.attempt ?? 0 >= 2, "\(id) was held by the dead worker")
        }
        let rerun = status.jobs.filter { $0.attempt > 1 }.count
        print(
            "fan-in 1→300→1 with a worker SIGKILLed: \(status.jobs.count) jobs completed, \(held.count) held by it, \(rerun) run again, join queued once"
        )
    }

    @Test func aBatchsCallbacksRunOnceWhileThreeWorkerProcessesFinishItsMembers() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        for n in 1...3 { try cluster.startWorker("w\(n)") }
        let batch = try await cluster.store.createBatch(
            BatchRequest(
                jobs: (0..<300).map { _ in JobRequest(type: "noop") }, onComplete: JobRequest(type: "echo", payload: #"{"done":true}"#),
                onSuccess: JobRequest(type: "noop")))
        let status = try await DroverClient(store: cluster.store).wait(forWorkflow: batch.id, timeout: .seconds(60))
        #expect(status.state == .completed)
        var finishers: Set<String> = []
        for entry in status.jobs where Int(entry.name) != nil {
            let member = try #require(try await cluster.store.job(entry.id, queue: "default"))
            if let worker = member.history.last(where: { $0.state == .completed })?.worker { finishers.insert(worker) }
        }
        #expect(finishers.count == 3, "every worker finished members: \(finishers)")
        for name in [BatchRequest.onCompleteName, BatchRequest.onSuccessName] {
            let callback = try #require(try await cluster.store.job(batch.jobs[name]!, queue: "default"))
            #expect(callback.attempt == 1 && callback.history.filter { $0.state == .running }.count == 1, "\(name) ran once")
        }
    }

    @Test func aChainRunsInOrderOnWorkerProcessesAndEachChildIsQueuedByItsParentsCompletion() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let chain = (0..<100).map {
            WorkflowJob(name: "c\($0)", job: JobRequest(type: "noop"), dependsOn: $0 == 0 ? [] : [WorkflowEdge("c\($0 - 1)")])
        }
        let submitted = try await cluster.store.submitWorkflow(WorkflowRequest(jobs: chain))
        let status = try await DroverClient(store: cluster.store).wait(forWorkflow: submitted.id, timeout: .seconds(60))
        #expect(status.state == .completed)
        var queuedAfterParent: [Int64] = []
        var startedAfterParent: [Int64] = []
        var previous: Job?
        for entry in status.jobs {
            let job = try #require(try await cluster.store.job(entry.id, queue: "default"))
            if let parent = previous {
                let completed = try #require(parent.history.last { $0.state == .completed }?.at)
                let queued = try #require(job.history.first { $0.state == .queued }?.at)
                let started = try #require(job.history.first { $0.state == .running }?.at)
                #expect(started >= completed, "\(entry.name) started before its parent completed")
                queuedAfterParent.append(queued - completed)
                startedAfterParent.append(started - completed)
            }
            previous = job
        }
        // Queued in the call that completed the parent: the same Redis timestamp.
        #expect(queuedAfterParent.allSatisfy { $0 == 0 })
        let sorted = startedAfterParent.sorted()
        print(
            "chain of 100 on 2 worker processes: parent COMPLETED → child QUEUED 0 ms (same call) for all 99 edges; "
                + "→ child RUNNING p50 \(sorted[sorted.count / 2]) ms, p99 \(sorted[sorted.count * 99 / 100]) ms")
    }

    @Test func aHandlerKilledAfterItsOnceStepIsRunAgainWithoutRunningTheStep() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        let example = try Self.examplePath("Workflow")
        let reports = cluster.server.directory + "/reports"
        let environment = ["DROVER_REDIS_URL": cluster.server.url, "ETL_REPORT_DIR": reports, "SWIFT_BACKTRACE": "enable=no"]
        var crashing = environment
        crashing["ETL_CRASH_AFTER_REPORT"] = "1"
        let first = try ChildProcess(
            executable: example, arguments: ["worker"], environment: crashing, logPath: cluster.server.directory + "/etl-first.log")
        cluster.adopt("etl-first", first)
        let submit = try ChildProcess(
            executable: example, arguments: ["submit"], environment: environment, logPath: cluster.server.directory + "/etl-submit.log")
        cluster.adopt("etl-submit", submit)
        // The first worker dies by its own SIGKILL once the report is written.
        #expect(await first.waitForExit(timeout: .seconds(120)) != 0)
        #expect(first.output().contains("report written, now dying"), "\(first.output().suffix(2000))")
        let second = try ChildProcess(
            executable: example, arguments: ["worker"], environment: environment, logPath: cluster.server.directory + "/etl-second.log")
        cluster.adopt("etl-second", second)

        #expect(await submit.waitForExit(timeout: .seconds(120)) == 0, "\(submit.output().suffix(2000))")
        #expect(submit.output().contains("the report was written 1 time(s)"), "\(submit.output().suffix(2000))")
        let writes = try String(contentsOfFile: reports + "/writes.log", encoding: .utf8).split(separator: "\n")
        #expect(writes.count == 1 && writes[0].hasSuffix("attempt 1"), "\(writes)")
        let loadID = try #require(writes.first.flatMap { JobID(String($0.split(separator: " ")[0])) })
        let load = try #require(try await cluster.store.job(loadID, queue: "etl"))
        #expect(load.state == .completed && load.attempt == 2)
        #expect(load.effects["write-report"] != nil && load.result?.contains("report-\(loadID).json") == true)
    }

    @Test func theCommandLineSubmitsAWorkflowAndABatchAndDrawsThem() async throws {
        let cluster = try await ProcessCluster()
        defer {
            cluster.killProcesses()
            Task { await cluster.stop() }
        }
        try cluster.startWorker("w1")
        let directory = cluster.server.directory
        try #"""
        {"name": "nightly", "jobs": [
          {"name": "extract", "type": "echo", "payload": {"rows": 3}},
          {"name": "load", "type": "echo", "dependsOn": ["extract", {"name": "audit", "onParentFailure": "continue"}]},
          {"name": "audit", "type": "fail", "maxAttempts": 1}]}
        """#.write(toFile: directory + "/workflow.json", atomically: true, encoding: .utf8)
        try #"""
        {"queue": "default", "jobs": [{"type": "noop"}, {"type": "noop"}, {"type": "fail", "maxAttempts": 1}],
         "onComplete": {"type": "noop"}, "onSuccess": {"type": "noop"}}
        """#.write(toFile: directory + "/batch.json", atomically: true, encoding: .utf8)
        let master = "http://127.0.0.1:\(cluster.httpPort)"
        func drover(_ arguments: [String], log: String) async throws -> String {
            let process = try ChildProcess(
                executable: try droverExecutable(), arguments: arguments + ["--master", master], logPath: directory + "/\(log).log")
            #expect(await process.waitForExit(timeout: .seconds(60)) == 0, "\(arguments): \(process.output())")
            return process.output()
        }
        let workflow = try await drover(["workflow", "submit", directory + "/workflow.json", "--wait", "30"], log: "workflow")
        #expect(workflow.contains("submitted: 3 jobs in queue default"), "\(workflow)")
        #expect(workflow.contains("in default: FAILED, 2 of 3 completed"), "\(workflow)")
        #expect(workflow.contains("  load") && workflow.contains("after extract, audit"), "\(workflow)")

        let batch = try await drover(["batch", "create", directory + "/batch.json", "--open"], log: "batch")
        let batchID = try #require(batch.split(separator: " ").first.map(String.init))
        #expect(batch.contains("created: 3 jobs in queue default, open"), "\(batch)")
        try #"{"jobs": [{"type": "noop"}]}"#.write(toFile: directory + "/more.json", atomically: true, encoding: .utf8)
        let added = try await drover(["batch", "add", batchID, directory + "/more.json", "--close"], log: "add")
        #expect(added.contains("1 jobs added, batch CLOSED"), "\(added)")
        let client = DroverClient(store: cluster.store)
        let status = try await client.wait(forWorkflow: try #require(JobID(batchID)), timeout: .seconds(30))
        // Member 3 is dead: onComplete ran, onSuccess waits for its retry.
        #expect(status.state == .blocked && status.batch == .closed)
        let tree = try await drover(["workflow", "status", batchID], log: "status")
        #expect(tree.contains("BLOCKED") && tree.contains("batch CLOSED") && tree.contains("after 1, 2, 3, 4"), "\(tree)")
    }
}
