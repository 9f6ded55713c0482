import DroverAPI
import DroverMaster
import DroverTestSupport
import Foundation
import Testing

/// Holds the running REST API to `openapi.yaml` with schemathesis: generated requests, valid
/// and invalid, must get documented statuses, no 5xx, and bodies matching the schemas.
@Suite struct OpenAPITests {

    static func schemathesis() throws -> String {
        let candidates = [
            ProcessInfo.processInfo.environment["SCHEMATHESIS"],
            repositoryRoot.appendingPathComponent(".build-tools/venv/bin/schemathesis").path,
        ].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        return try RedisServer.findExecutable("schemathesis")
    }

    @Test func theRESTAPIConformsToItsOpenAPIDocument() async throws {
        let executable = try Self.schemathesis()
        // With auth on, as in production: schemathesis also checks that requests without the
        // token are refused.
        // Production limits: a batch over its item limit must be read (and refused with 422), not
        // cut off by a small test body limit first.
        let m = try await MasterFixture.start(maxWait: .milliseconds(500), auth: AuthTests.auth, limits: MasterLimits())
        defer { Task { await m.stop() } }
        let log = m.server.directory + "/schemathesis.log"
        let run = try ChildProcess(
            executable: executable,
            arguments: [
                "--config-file", repositoryRoot.appendingPathComponent("schemathesis.toml").path,
                "run", repositoryRoot.appendingPathComponent("openapi.yaml").path, "--url", m.httpURL, "--checks", "all",
                "--max-examples", "40", "--workers", "2", "--request-timeout", "60", "--seed", "1", "--no-color",
                "--header", "Authorization: Bearer \(AuthTests.tokens.admin)",
            ],
            environment: ["SCHEMATHESIS_HOOKS": "", "PYTHONHASHSEED": "0"], logPath: log)
        let status = await run.waitForExit(timeout: .seconds(600))
        let output = run.output()
        #expect(status != nil, "schemathesis did not finish")
        // Failures are ours; a crash inside schemathesis itself ("Runtime Error") is not.
        let failures = output.split(separator: "\n").filter { $0.hasPrefix("- ST") || $0.contains("Network Error") || $0.contains("❌") }
        if !failures.isEmpty { print(output) }  // the whole report: each failure with its response and a curl to replay it
        #expect(failures.isEmpty, "\(failures)")
        // Every operation of the document, which is every operation of the API, was loaded and fuzzed.
        let operations = APIOperation.allCases.count
        #expect(output.contains("Operations:       \(operations) selected / \(operations) total"), "\(output.suffix(3000))")
        #expect(output.contains("Fuzzing") && output.contains("\(operations) passed"), "\(output.suffix(3000))")
    }
}
