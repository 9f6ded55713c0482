import DroverCore
import Foundation
import Logging

// Running one job, reporting it, and stopping it when its cancel is asked for.
extension Worker {
    // MARK: Running one job

    func execute(_ job: ClaimedJob) async {
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.id)"
        logger[metadataKey: "queue"] = "\(job.queue)"
        logger[metadataKey: "type"] = "\(job.type)"
        logger[metadataKey: "attempt"] = "\(job.attempt)"
        // The slot frees when the handler returns; the job stays in flight until reported.
        var holdsSlot = true
        defer {
            let empty = state.withLock { state -> Bool in
                state.inFlight[job.id] = nil
                state.handlers[job.id] = nil
                state.cancelRequested.remove(job.id)
                return state.inFlight.isEmpty
            }
            if holdsSlot { slots.give() }
            if empty { drained.fire() }
        }
        logger.debug("job RUNNING")
        guard let handler = handlers.handler(for: job.type) else {
            await fail(job, JobFailure.noHandler(type: job.type, worker: configuration.id), logger: logger)
            return
        }
        let (store, lease, worker) = (self.store, job.lease, configuration.id)
        let context = JobContext(
            id: job.id, queue: job.queue, type: job.type, attempt: job.attempt, maxAttempts: job.maxAttempts,
            isLastAttempt: job.isLastAttempt, worker: worker, logger: logger, parentResults: job.parentResults,
            failedParents: job.failedParents,
            ledger: EffectLedger(recorded: job.effects) { step, value in
                try await store.recordEffect(lease, step: step, value: value, worker: worker)
            })
        let timeout = job.timeoutMs.map { Duration.milliseconds($0) } ?? configuration.jobTimeout
        let started = ContinuousClock.now

        // The handler races its deadline. On timeout the failure is reported at once, then the
        // handler is cancelled; the slot frees when the handler actually returns.
        let first = OneShot<String>()
        let run = Task {
            do { first.finish(.success(try await handler(job.payload, context))) } catch { first.finish(.failure(error)) }
        }
        let cancelledAlready = state.withLock { state -> Bool in
            state.handlers[job.id] = run
            return state.cancelRequested.contains(job.id)
        }
        if cancelledAlready { run.cancel() }
        let watched = timeouts.watch(until: started + timeout) {
            first.finish(.failure(JobFailure.timedOut(after: timeout)))
            run.cancel()
        }
        let outcome: Result<String, any Error> = await withTaskCancellationHandler {
            do { return .success(try await first.wait()) } catch { return .failure(error) }
        } onCancel: {
            run.cancel()
        }
        timeouts.unwatch(watched)
        if case .failure(let error as JobFailure) = outcome, case .timedOut = error {
            await fail(job, error, logger: logger)
            _ = await run.result
            return
        }
        holdsSlot = false
        slots.give()
        if state.withLock({ $0.interrupted }) { return }  // already handed back
        switch outcome {
        case .success(let result):
            do {
                try JSONText.validate(result, field: "result")
            } catch {
                await fail(job, JobFailure.invalidResult("\(error)"), logger: logger)
                return
            }
            let outcome = try? await retrying("report completion", logger: logger) {
                try await self.completions.complete(CompletionReport(job: job, result: result))
            }
            record(outcome, logger: logger, elapsed: ContinuousClock.now - started)
        case .failure(let error):
            await fail(job, error, logger: logger)
        }
    }

    func fail(_ job: ClaimedJob, _ error: any Error, logger: Logger) async {
        let message =
            state.withLock { $0.cancelRequested.contains(job.id) } && error is CancellationError
            ? "cancelled: the handler stopped on a cancel request" : String(describing: error)
        let outcome = try? await retrying("report failure", logger: logger) {
            try await self.store.fail([FailureReport(job: job, error: message)], worker: self.configuration.id)
        }
        var logger = logger
        logger[metadataKey: "error"] = "\(message)"
        record(outcome?.first, logger: logger, elapsed: nil)
    }

    func record(_ outcome: ReportOutcome?, logger: Logger, elapsed: Duration?) {
        switch outcome {
        case .applied(.completed):
            logger.debug("job COMPLETED", metadata: elapsed.map { ["ms": "\($0.milliseconds)"] } ?? [:])
        case .applied(.cancelled):
            logger.info("job CANCELLED")
        case .applied(.deadLetter):
            logger.error("job FAILED → DEAD_LETTER (no attempts left)")
        case .applied(let state):
            logger.warning("job FAILED → \(state.rawValue)")
        case .stale(let current):
            state.withLock { $0.staleReports += 1 }
            logger.warning("report refused: the job was reassigned meanwhile", metadata: ["current": "\(current?.rawValue ?? "gone")"])
        case nil:
            logger.error("report not delivered; the reaper will recover the job")
        }
    }

    // MARK: Cancel requests

    /// Waits for cancel requests of this worker's jobs, one long wait after another, and
    /// cancels the handlers they name. A request for a job whose handler has not started yet
    /// is kept until it does.
    func listenForCancelRequests() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let ids = try await store.cancelRequests(worker: configuration.id, timeout: .seconds(10))
                failures = 0
                for id in ids { requestCancel(id) }
            } catch {
                if Task.isCancelled { return }
                if failures == 0 { logger.warning("waiting for cancel requests failed; retrying", metadata: ["error": "\(error)"]) }
                failures += 1
                await pauseAfterFailure(failures)
            }
        }
    }

    func requestCancel(_ id: JobID) {
        let handler = state.withLock { state -> Task<Void, Never>? in
            // Bounded: ids of jobs that never reach this worker must not pile up.
            if state.cancelRequested.count >= 10_000 { state.cancelRequested.removeAll() }
            state.cancelRequested.insert(id)
            return state.handlers[id]
        }
        logger.info("cancel requested: stopping the job's handler", metadata: ["job": "\(id)", "running": "\(handler != nil)"])
        handler?.cancel()
    }
}
