import DroverTestSupport
import Foundation
import Testing

/// The fuzz targets, built normally, replay their corpus: every input that ever found a bug
/// stays a test (scripts/fuzz does the fuzzing itself, with libFuzzer).
@Suite struct FuzzCorpusTests {
    @Test(arguments: [("FuzzTCPFrames", "tcp-frames"), ("FuzzJobDecoding", "job-decoding")])
    func theCorpusReplaysWithoutACrash(_ target: String, _ corpus: String) async throws {
        let executable = URL(fileURLWithPath: try droverExecutable()).deletingLastPathComponent().appendingPathComponent(target).path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("Fuzz/corpus/\(corpus)").path
        let inputs = try FileManager.default.contentsOfDirectory(atPath: directory).count
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("drover-\(target)-\(UUID().uuidString.prefix(6)).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let run = try ChildProcess(
            executable: executable, arguments: [directory], environment: ["SWIFT_BACKTRACE": "enable=no"], logPath: log)
        let status = await run.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "\(run.output().suffix(2000))")
        #expect(run.output().contains("\(inputs) inputs replayed, none crashed"))
    }
}
